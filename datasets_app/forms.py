from django import forms

from dpo_portal.ids import ID_RULE


class NewDatasetForm(forms.Form):
    dataset_id = forms.CharField(
        label="Dataset ID",
        # No max_length: the browser would cut a longer ID silently, where the
        # ID check says what is wrong with it.
        help_text=f"Used in the dataset's name, accounts/…/datasets/ID: {ID_RULE}.",
        widget=forms.TextInput(attrs={"placeholder": "support-prefs-v1"}),
    )
    display_name = forms.CharField(
        label="Display name",
        max_length=200,
        required=False,
        help_text="Free text shown in lists; the ID is used when empty.",
    )
