"""Leaving Stegvis: a participation ends (``participant end``), personal data is erased on request
or after STEGVIS_RETENTION_MONTHS (``participant erase``, the housekeeping job), and a participant
gets their own copy (``participant export``, /mydata). What a data protection officer reads about
it is docs/privacy.md."""
