"""Forms of the web UI. Task forms only collect and clean input; the tracker services decide and write."""

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import QuerySet

from analytics.selectors import DEFAULT_RANGE_DAYS, MAX_RANGE_DAYS, default_range, range_days, utc_today
from tracker.models import Priority, Project
from tracker.services import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form over the same accounts as the API: the username is the (lowercased) email."""

    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip().lower()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


class DateRangeForm(forms.Form):
    """The dashboards' `from`/`to` (inclusive UTC days): the API's rules, shown as field errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # `from` is a Python keyword: name the fields here.
        self.fields["from"] = forms.DateField(
            required=False,
            label="From",
            widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
        )
        self.fields["to"] = forms.DateField(
            required=False,
            label="To",
            widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        last = cleaned.get("to") or utc_today()
        first = cleaned.get("from") or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if first > last:
            raise forms.ValidationError("“From” must not be after “To”.", code="invalid_range")
        if range_days(first, last) > MAX_RANGE_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_RANGE_DAYS} days.", code="range_too_long")
        cleaned["first_day"], cleaned["last_day"] = first, last
        return cleaned

    def days(self) -> tuple[date, date]:
        """The chosen range, or the default one when the input is invalid (the errors are shown)."""
        if self.is_valid():
            return self.cleaned_data["first_day"], self.cleaned_data["last_day"]
        first, last = default_range()
        return first, last


class TaskForm(forms.Form):
    """A task's editable fields. Types and lengths are checked here; everything else (membership of the
    assignee, archived projects, roles) by `tracker.services`, whose errors land on the same fields."""

    project = forms.ModelChoiceField(queryset=Project.objects.none(), empty_label=None)
    title = forms.CharField(max_length=TITLE_MAX_LENGTH)
    description = forms.CharField(
        required=False, max_length=DESCRIPTION_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 4})
    )
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.MEDIUM)
    assignee = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    due_at = forms.DateTimeField(
        required=False,
        label="Due (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, projects: QuerySet[Project], members: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        project_field = self.fields["project"]
        assert isinstance(project_field, forms.ModelChoiceField)
        project_field.queryset = projects
        assignee_field = self.fields["assignee"]
        assert isinstance(assignee_field, forms.TypedChoiceField)
        assignee_field.choices = [("", "— nobody —"), *members]
        for name, field in self.fields.items():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            if name != "version":
                field.widget.attrs.setdefault("class", css)
