"""JSON errors in one shape: {"error": {"code", "message", "details"}}.

Codes are the hosted platforms' (gRPC-style) names; `details` lists field problems
as {"field", "message"}, with fields named as in the JSON body.
"""

from django.http import JsonResponse

STATUS_OF = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "ALREADY_EXISTS": 409,
    "FAILED_PRECONDITION": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "INTERNAL": 500,
}


class ApiError(Exception):
    def __init__(self, code, message, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []


def error_response(code, message, details=None):
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return JsonResponse(body, status=STATUS_OF[code])


def field_problems(problems, names=None):
    """ValidationError-style {field: message or [messages]} as API details."""
    names = names or {}
    details = []
    for field, messages in problems.items():
        for message in messages if isinstance(messages, list) else [messages]:
            details.append({"field": names.get(field, field), "message": str(message)})
    return details
