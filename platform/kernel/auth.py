"""Token authentication for apps and integrations: ``Authorization: Bearer <token>`` (or ``Token``).
Tokens live in the district's own schema, so a token is only ever valid on its own district's host.
A token expires ``TOKEN_TTL`` seconds after it was issued (401 with code ``token_expired``)."""
from __future__ import annotations

from datetime import UTC, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header


class TokenExpired(exceptions.AuthenticationFailed):
    default_code = "token_expired"


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

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        expires_at = token.created + timedelta(seconds=settings.TOKEN_TTL)
        if expires_at <= timezone.now():
            raise TokenExpired(_("This token expired at %(at)s. Sign in again to get a new one.") % {
                "at": expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")}, code="token_expired")
        return user, token
