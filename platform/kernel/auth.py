"""Token authentication for apps and integrations: ``Authorization: Bearer <token>`` (or ``Token``).
Tokens live in the district's own schema, so a token is only ever valid on its own district's host.
A token expires ``TOKEN_TTL`` seconds after it was issued (401 with code ``token_expired``)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header


class TokenExpired(exceptions.AuthenticationFailed):
    default_code = "token_expired"


@cache
def _statement() -> tuple[str, list[str], list[str], list[str]]:
    """One statement for a signed-in API call: the token, its user and the user's role assignments
    (what ``kernel.selectors.roles_of`` reads next on nearly every call), in place of the ORM's
    token+user query and a second one for the roles. Nothing is cached between requests: a deleted
    token, a deactivated user or a removed role counts on the very next request, in every process."""
    from rest_framework.authtoken.models import Token

    from kernel.models import RoleAssignment

    q = connection.ops.quote_name
    user_model = get_user_model()
    user_fields = [f.attname for f in user_model._meta.concrete_fields]
    token_fields = [f.attname for f in Token._meta.concrete_fields]
    role_fields = [f.attname for f in RoleAssignment._meta.concrete_fields]
    roles = RoleAssignment._meta.db_table
    sql = (
        "SELECT " + ", ".join(f"u.{q(f.column)}" for f in user_model._meta.concrete_fields) + ", "
        + ", ".join(f"t.{q(f.column)}" for f in Token._meta.concrete_fields) + ", "
        + "(SELECT COALESCE(json_agg(json_build_array("
        + ", ".join(f"r.{q(f.column)}" for f in RoleAssignment._meta.concrete_fields)
        + f") ORDER BY r.{q('role')}, r.{q('id')}), '[]'::json) FROM {q(roles)} r"
        + f" WHERE r.{q(RoleAssignment._meta.get_field('user').column)} = u.{q(user_model._meta.pk.column)})"
        + f" FROM {q(Token._meta.db_table)} t JOIN {q(user_model._meta.db_table)} u"
        + f" ON u.{q(user_model._meta.pk.column)} = t.{q(Token._meta.get_field('user').column)}"
        + f" WHERE t.{q(Token._meta.pk.column)} = %s"
    )
    return sql, user_fields, token_fields, role_fields


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
        """As DRF's (same answers and messages), in one statement that also reads the roles."""
        from rest_framework.authtoken.models import Token

        from kernel.models import RoleAssignment

        sql, user_fields, token_fields, role_fields = _statement()
        with connection.cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        n, m = len(user_fields), len(user_fields) + len(token_fields)
        user = get_user_model().from_db(connection.alias, user_fields, row[:n])
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db(connection.alias, token_fields, row[n:m])
        token.user = user
        created = role_fields.index("created_at")
        assignments = []
        for values in row[m]:
            values[created] = datetime.fromisoformat(values[created]).astimezone(UTC)
            assignments.append(RoleAssignment.from_db(connection.alias, role_fields, values))
        user._role_cache = assignments  # kernel.selectors.roles_of: this request's roles
        expires_at = token.created + timedelta(seconds=settings.TOKEN_TTL)
        if expires_at <= timezone.now():
            raise TokenExpired(_("This token expired at %(at)s. Sign in again to get a new one.") % {
                "at": expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")}, code="token_expired")
        return user, token
