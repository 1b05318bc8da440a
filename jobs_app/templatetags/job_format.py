from django import template

register = template.Library()


@register.filter
def metric(value):
    """A trainer metric as a person reads it: counts whole, rates with 4 digits.

    A fixed number of decimals would show a learning rate of 1.4e-05 as 0.0000 and
    a token count as 14870.0000.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:.4g}"
