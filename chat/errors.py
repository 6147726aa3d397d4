"""The domain's error, defined in project/errors.py (shared with accounts and the API)."""

from project.errors import HTTP_STATUS, ClientError, ErrorCode

__all__ = ["HTTP_STATUS", "ClientError", "ErrorCode"]
