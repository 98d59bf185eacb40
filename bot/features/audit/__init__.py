"""Who was shown whose data: ``stegvis audit --participant ID | --since D`` over the access log (issue 9)."""
