"""The weekly practice check-in: how much Swedish a participant practised, where, how sure they feel, and the phrase of the week."""
