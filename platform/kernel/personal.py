"""Personal data: phone numbers (and, later, ID numbers) are validated, encrypted at rest,
looked up by a keyed hash (blind index) and shown masked. Never log the clear value."""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
from functools import lru_cache

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def _derive(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"mashang:{purpose}:{secret}".encode()).digest()


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    key = settings.FIELD_ENCRYPTION_KEY or base64.urlsafe_b64encode(_derive(settings.SECRET_KEY, "encrypt")).decode()
    return Fernet(key.encode() if isinstance(key, str) else key)


@lru_cache(maxsize=1)
def _index_key() -> bytes:
    return (settings.BLIND_INDEX_KEY or "").encode() or _derive(settings.SECRET_KEY, "blind-index")


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: wrong FIELD_ENCRYPTION_KEY?") from exc


def blind_index(value: str, kind: str) -> str:
    """Keyed hash used to find a record by an exact personal value without storing it in clear."""
    return hmac.new(_index_key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def normalize_phone(raw: str) -> str:
    """Return a mainland-China phone number in E.164 (+86…), or raise ValidationError."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="required")
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError(_("This is not a phone number."), code="invalid")
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("This phone number does not exist. Check the digits."), code="invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_id_number(raw: str) -> str:
    """Return a valid mainland resident ID number (18 characters, upper-case X), or raise
    ValidationError saying what is wrong (length, region/date, checksum)."""
    from stdnum.cn import ric
    from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter an ID number."), code="required")
    try:
        compact = ric.compact(text).upper()
        if len(compact) != 18:
            raise InvalidLength()
        if not compact[:17].isdigit() or not (compact[17].isdigit() or compact[17] == "X"):
            raise InvalidFormat()
        born = ric.get_birth_date(compact)  # a real date, checked before the checksum (the likelier typo)
        if born > datetime.date.today() or not _known_region(compact[:6]):
            raise InvalidComponent()
        if compact[17] != ric.calc_check_digit(compact):
            raise InvalidChecksum()
        return compact
    except InvalidLength:
        raise ValidationError(_("An ID number has 18 characters."), code="id_length")
    except InvalidFormat:
        raise ValidationError(_("An ID number is 17 digits and a final digit or X."), code="id_format")
    except InvalidComponent:
        raise ValidationError(_("The birth date or region in this ID number does not exist."), code="id_component")
    except InvalidChecksum:
        raise ValidationError(_("The last character of this ID number does not match (checksum)."),
                              code="id_checksum")


@lru_cache(maxsize=8192)
def _known_region(code: str) -> bool:
    """The 6-digit region is one python-stdnum knows, in any period. stdnum's own validate() also
    demands that the region existed in the birth year; that refuses real people (a Kangbashi code,
    150603, dates from 2016, yet numbers are first issued later than birth), so we don't."""
    from stdnum import numdb

    return any(props.get("county") for _part, props in numdb.get("cn/loc").info(code))


def mask_id_number(value: str) -> str:
    """150602********123X: region kept, birth date and sequence hidden, last four kept."""
    return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}" if len(value) > 10 else "*" * len(value)


def mask_name(name: str) -> str:
    """张*明: first and last character kept, the rest hidden (张三 → 张*)."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name or "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def national_phone(e164: str) -> str:
    number = phonenumbers.parse(e164, None)
    return phonenumbers.national_significant_number(number) if number.country_code == 86 else e164


def mask_phone(e164: str) -> str:
    """138****5678 (mainland) or the international number with its middle hidden."""
    digits = national_phone(e164)
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "****"


def record_access(*, actor, target, field: str, purpose: str = "") -> None:
    """Record that ``actor`` was shown the whole value of a personal field of ``target`` (a case's
    reporter phone shown to its handler): an audit entry ``personal.viewed``, in its own transaction
    when the caller has none. Callers show the whole value only after this returned."""
    from django.db import transaction

    from kernel import audit

    with transaction.atomic():
        audit.record(actor=actor, action="personal.viewed", target=target,
                     after={"field": field, **({"purpose": purpose} if purpose else {})})
