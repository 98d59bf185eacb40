"""The funders' monthly reports: attendance and practice check-ins per activity (``stegvis report``)."""
