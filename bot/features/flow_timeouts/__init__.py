"""A flow step's timeout carried out: a question nobody answers in time gets its nudge, or is recorded unanswered."""
