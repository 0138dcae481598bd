"""Token authentication for apps and integrations: ``Authorization: Bearer <token>`` (or ``Token``).
Tokens live in the district's own schema, so a token is only ever valid on its own district's host."""
from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() not in (b"bearer", b"token"):
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed("Send the header as 'Authorization: Bearer <token>'.")
        try:
            token = auth[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.")
        return self.authenticate_credentials(token)
