"""The application form of the console pages: it only parses (types, choices); every rule is checked by
``onboarding.services`` and its errors are put back on the fields."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from modules.catalog import catalog
from onboarding.services.rules import DPA_VERSION, SEED_TEMPLATES

TEMPLATE_LABELS = {"default": _("Default rules"), "kangbashi": _("Kangbashi's rules (the report's rulebook)"),
                   "dongsheng": _("Dongsheng's rules"), "laixi": _("Laixi's rules")}


def module_choices(english: bool = False) -> list[tuple[str, str]]:
    return [(s.key, s.name_en if english else s.name_zh) for s in catalog]


def module_hints(english: bool = False) -> list[dict]:
    """Each module the vendor may choose, with the modules it needs (as on the district's /manage/)."""
    rows = []
    for spec in catalog:
        if spec.always_on:
            continue
        needs = [catalog[d] for d in spec.depends if not catalog[d].always_on]
        rows.append({"key": spec.key, "name": spec.name_en if english else spec.name_zh,
                     "needs": [(d.name_en if english else d.name_zh) for d in needs]})
    return rows


def plan_choices(english: bool) -> list[tuple[str, str]]:
    """The plans a district can be sold on (billing's, kept as data by finance), with their monthly price."""
    from django.apps import apps

    Plan = apps.get_model("billing", "Plan")
    return [(p.key, f"{(p.name_en or p.name_zh) if english else p.name_zh} · ¥{p.amount_fen / 100:,.0f}/"
             + (_("month")))
            for p in Plan.objects.filter(active=True).order_by("amount_fen", "key")]


class ApplicationForm(forms.Form):
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=80)
    name_en = forms.CharField(label=_("Name (English)"), max_length=80, required=False)
    region_code = forms.CharField(label=_("Region code (GB/T 2260, 6 digits)"), max_length=6,
                                  widget=forms.TextInput(attrs={"inputmode": "numeric", "pattern": "[0-9]{6}"}))
    slug = forms.CharField(label=_("Short name in the address"), max_length=40,
                           help_text=_("Lower-case letters, digits and '-': the address is <short name>.<platform domain>."))
    domain = forms.CharField(label=_("Own domain (optional)"), max_length=253, required=False)
    contact_name = forms.CharField(label=_("Contact person"), max_length=80)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=40,
                                    widget=forms.TextInput(attrs={"inputmode": "tel"}))
    contact_email = forms.CharField(label=_("Contact e-mail"), max_length=200,
                                    widget=forms.EmailInput())
    population = forms.IntegerField(label=_("Expected population"), min_value=1)
    modules = forms.MultipleChoiceField(label=_("Modules wanted"), required=False,
                                        widget=forms.CheckboxSelectMultiple)
    seed_template = forms.ChoiceField(label=_("Starting rulebook"), choices=[])
    source_district = forms.ChoiceField(label=_("Or copy the rules of one of your districts"), required=False,
                                        choices=[])
    title_zh = forms.CharField(label=_("Portal title (Chinese)"), max_length=80, required=False)
    title_en = forms.CharField(label=_("Portal title (English)"), max_length=80, required=False)
    primary_color = forms.CharField(label=_("Main colour"), max_length=7, initial="#c62828",
                                    widget=forms.TextInput(attrs={"type": "color"}))
    accent_color = forms.CharField(label=_("Accent colour"), max_length=7, initial="#f9a825",
                                   widget=forms.TextInput(attrs={"type": "color"}))
    logo = forms.FileField(label=_("Logo (PNG, JPEG or WebP, at most 2 MB)"), required=False)
    plan_key = forms.ChoiceField(label=_("Plan"), initial="standard", choices=[])
    dpa_signer = forms.CharField(label=_("Who signs the agreement"), max_length=80, required=False)
    dpa_accepted = forms.BooleanField(label=_("I accept the data-processing agreement above on the vendor's behalf"),
                                      required=False)
    dpa_version = forms.CharField(widget=forms.HiddenInput, initial=DPA_VERSION, required=False)

    def __init__(self, *args, own_districts=(), english: bool = False, phone_on_file: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if phone_on_file:  # editing: empty keeps the number on file (shown masked)
            self.fields["contact_phone"].required = False
            self.fields["contact_phone"].widget.attrs["placeholder"] = phone_on_file
        self.fields["modules"].choices = module_choices(english)
        self.fields["plan_key"].choices = plan_choices(english)
        self.fields["seed_template"].choices = [(k, TEMPLATE_LABELS[k]) for k in SEED_TEMPLATES]
        self.fields["source_district"].choices = [("", _("(none)"))] + [
            (d.slug, d.name_en or d.name_zh if english else d.name_zh) for d in own_districts]

    def values(self) -> dict:
        """What the services get (the logo apart)."""
        data = dict(self.cleaned_data)
        data.pop("logo", None)
        return data


def initial_for(application) -> dict:
    """The form's initial values from a stored application (the phone shown whole to its own vendor)."""
    fields = ("name_zh", "name_en", "region_code", "slug", "contact_name", "contact_email", "population", "modules",
              "seed_template", "title_zh", "title_en", "primary_color", "accent_color", "plan_key", "dpa_signer")
    initial = {f: getattr(application, f) for f in fields}
    from onboarding.services.applications import _is_default

    initial["domain"] = "" if _is_default(application) else application.domain
    initial["contact_phone"] = ""  # never shown whole again: left empty, the stored number is kept
    initial["source_district"] = application.source_district.slug if application.source_district_id else ""
    initial["dpa_version"] = DPA_VERSION
    return initial
