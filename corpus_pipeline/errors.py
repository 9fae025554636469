"""The one kind of error a job turns into a one-line message and exit code 1: the user's to fix."""


class UserError(Exception):
    """A config, input or output the job cannot use; the message is for the user."""
