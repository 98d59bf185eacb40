"""Sending a flow to a group (a survey such as the course evaluation) and reading its answers."""
