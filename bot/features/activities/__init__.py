"""Group activities: weekly sessions participants enrol in (a language café, work training), their cancellations and the notices about them."""
