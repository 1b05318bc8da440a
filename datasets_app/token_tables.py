"""Token lengths a job counted on a dataset, laid out for the dataset and job pages."""

TOKEN_ROWS = (
    ("prompt_tokens", "Prompt tokens"),
    ("preferred_tokens", "Preferred tokens"),
    ("non_preferred_tokens", "Non-preferred tokens"),
)


def token_tables(dataset, model_name=None):
    """One table per base model the tokens were counted for (or only `model_name`)."""
    return [
        {
            "model": name,
            "job": counted.get("job"),
            "pairs": counted.get("pairs"),
            "rows": [(label, counted.get(key) or {}) for key, label in TOKEN_ROWS],
        }
        for name, counted in sorted(dataset.token_stats.items())
        if model_name is None or name == model_name
    ]
