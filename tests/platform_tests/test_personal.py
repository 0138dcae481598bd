"""Personal numbers: validated with python-stdnum / phonenumbers, with a reason a person understands."""
import pytest
from django.core.exceptions import ValidationError
from stdnum.cn import ric

from kernel.personal import (
    blind_index,
    decrypt,
    encrypt,
    mask_id_number,
    mask_phone,
    normalize_id_number,
    normalize_phone,
)


def with_check(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


@pytest.mark.parametrize("first17", ["15060219800101123", "15060320160101123", "37028519900101123"])
def test_real_district_numbers_are_valid(first17):
    number = with_check(first17)
    assert normalize_id_number(number.lower()) == number


@pytest.mark.parametrize("raw,code", [
    ("", "required"),
    ("15060219800101", "id_length"),
    ("1506021980010112AB", "id_format"),
    (with_check("99999919800101123"), "id_component"),   # no such region
    (with_check("15060219801301123"), "id_component"),   # month 13
    (with_check("15060230000101123"), "id_component"),   # born in the future
    ("150602198001011234", "id_checksum"),
])
def test_bad_id_numbers_say_why(raw, code):
    with pytest.raises(ValidationError) as err:
        normalize_id_number(raw)
    assert err.value.code == code


def test_phone_numbers_and_masks():
    assert normalize_phone("139 1234 5678") == "+8613912345678"
    assert normalize_phone("+86 139-1234-5678") == "+8613912345678"
    for bad in ("12345", "10012345678", "abc"):
        with pytest.raises(ValidationError):
            normalize_phone(bad)
    assert mask_phone("+8613912345678") == "139****5678"
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_encryption_and_blind_index():
    token = encrypt("11010519491231002X")
    assert "11010519491231002X" not in token and decrypt(token) == "11010519491231002X"
    assert encrypt("x") != encrypt("x")  # randomised
    assert blind_index("x", "id") == blind_index("x", "id") != blind_index("x", "phone")
