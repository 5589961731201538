"""Settings declared once: each field of a view's settings dataclass (and of `NetConfig`, `TrainConfig`) carries
what its widget, its link name, its command-line flag and its help need, in `dataclasses.field(metadata=...)`.

    grid: int = setting(15, "Grid points per axis", min=3, max=101, odd=True, picks=(5, 7, ..., 51), key="ls_grid",
                        help="Odd, so that θ* is the centre point. Li et al. use 51.")

A setting declares its *domain* once: the categories of a categorical value (`options`), or limits (`min`, `max`,
`odd`, `exclude`) for a number, and for a tuple the domain of each item (`min_items`, `unique`). Apart from it, the
*picks* are the values a widget offers (`picks`; a categorical widget offers its `options`). Widgets show the picks
(and any value of the domain a link or a preset set); the command line, links, presets and the Python API accept
the whole domain, checked here (`check`), so a flag, a link, a page and a `validate()` cannot disagree: each
class's `validate()` calls `check_all` and keeps only the rules between fields. Limits that depend on the data (a
number of samples ≤ the training split) are checked by the study once the data is loaded.

The page draws the widget from it (`ui.settings`), the link names it by its `key`, the command line gets a flag
`--grid` with the same default, domain and help (`cli.add_settings`). Nothing here imports Streamlit or argparse:
this is the declaration only.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import MISSING, dataclass
from typing import Any, Callable, Sequence

WIDGETS = ("number", "slider", "select_slider", "select", "radio", "checkbox", "multiselect", "text", "none")
MAX_SEED = 2**31 - 1  # seeds: torch and numpy take any of these


class ConfigError(ValueError):
    """A configuration or setting that cannot be built or computed; the message says why, in one line."""


def setting(default: Any = MISSING, label: str = "", *, help: str = "", options: Sequence | None = None,
            picks: Sequence | None = None, min: float | None = None, max: float | None = None,
            step: float | None = None, odd: bool = False, exclude: Sequence = (), min_items: int = 0,
            max_items: int | None = None, unique: bool = False, widget: str | None = None, key: str | None = None, flag: str | None = None,
            cli: bool = True, labels: Callable[[Any], str] | dict | None = None,
            parse: Callable[[str], Any] | None = None, show: Callable[[Any], str] | None = None, group: str = "",
            default_factory: Callable | None = None) -> Any:
    """A dataclass field with its declaration.

    Domain: `options` (the categories of a categorical value, or of each item of a tuple), or `min`/`max` (inclusive),
    `odd` and `exclude` (values refused) for a number; `min_items`, `max_items` and `unique` for a tuple. Picks: `picks`, the
    numbers a widget offers (a select slider; without them a number widget spans min..max in `step`s).
    Presentation: `label` and `help` (widget and flag), the widget kind (default from the type, options and picks),
    the widget's session and link `key`, the CLI `flag` (default `--field-name`; `cli=False`: none), `labels` (how
    an option is shown), `parse`/`show` (a value as text, for a text box or a flag), and a `group` a form may draw
    apart (e.g. "more": in an expander)."""
    if widget is not None and widget not in WIDGETS:
        raise ValueError(f"widget must be one of {WIDGETS}, got {widget!r}")
    meta = dict(label=label, help=help, options=tuple(options) if options is not None else None,
                picks=tuple(picks) if picks is not None else None, min=min, max=max, step=step, odd=odd,
                exclude=tuple(exclude), min_items=min_items, max_items=max_items, unique=unique, widget=widget, key=key, flag=flag,
                cli=cli, labels=labels, parse=parse, show=show, group=group)
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class Spec:
    """One declared field, read back: its domain, its picks, and what a widget, a link and a flag need."""

    name: str
    default: Any
    label: str
    help: str
    options: tuple | None
    min: float | None
    max: float | None
    step: float | None
    widget: str
    key: str | None
    flag: str | None
    kind: type
    labels: Callable[[Any], str] | dict | None
    parse: Callable[[str], Any] | None
    show: Callable[[Any], str] | None
    group: str = ""
    picks: tuple | None = None
    odd: bool = False
    exclude: tuple = ()
    min_items: int = 0
    max_items: int | None = None
    unique: bool = False
    item: type | None = None  # a tuple's item type
    optional: bool = False  # None is a value of the domain

    @property
    def choices(self) -> tuple | None:
        """What a widget offers: the categories, else the picks (None: a free number or text)."""
        return self.options if self.options is not None else self.picks

    def label_of(self, value) -> str:
        """How `value` is shown in the widget (its option label)."""
        if self.labels is None:
            return str(value)
        return self.labels.get(value, str(value)) if isinstance(self.labels, dict) else self.labels(value)

    @property
    def title(self) -> str:
        """The label a message names the field by, with the field's own name where the label does not say it
        ("architecture (arch)", "width", "IG steps"): a page shows the label, a script or notebook sets the name.
        Lower case first (a message reads "error: width must be …"), except an acronym ("IG steps")."""
        plain = self.name.replace("_", " ")
        label = self.label[:1].lower() + self.label[1:] if self.label[1:2].islower() else self.label
        return label if plain in label.lower() else f"{label} ({self.name})"

    def problem(self, value) -> str | None:
        """Why `value` is outside this field's domain, in one line (None: it is inside)."""
        if value is None:
            return None if self.optional else f"{self.title} needs a value"
        if self.kind is tuple:
            if not isinstance(value, tuple):
                return f"{self.title} must be a list of values, got {value!r}"
            if len(value) < self.min_items:
                return f"{self.title}: choose at least {self.min_items}" if self.min_items > 1 else \
                    f"{self.title}: choose at least one"
            if self.max_items is not None and len(value) > self.max_items:
                return f"{self.title}: at most {self.max_items}, got {len(value)}"
            if self.unique and len(set(value)) != len(value):
                return f"{self.title}: each value once"
            for v in value:
                why = self._item_problem(v, self.item)
                if why:
                    return why
            return None
        return self._item_problem(value, self.kind)

    def _item_problem(self, v, kind) -> str | None:
        if self.options is not None:
            if v in self.options and not (isinstance(v, bool) and kind is not bool):
                return None
            return f"{self.title}: {v!r} is not one of {', '.join(map(str, self.options))}"
        if kind is bool:
            return None if isinstance(v, bool) else f"{self.title} must be true or false, got {v!r}"
        if kind is int and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
            return f"{self.title} must be a whole number, got {v!r}"
        if kind is float and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            return f"{self.title} must be a number, got {v!r}"
        if kind is str and not isinstance(v, str):
            return f"{self.title} must be text, got {v!r}"
        if kind in (int, float):
            if not math.isfinite(v):
                return f"{self.title} must be a finite number, got {v!r}"
            if self.min is not None and v < self.min or self.max is not None and v > self.max:
                return f"{self.title} must be {self.within()}, got {_num(v)}"
            if self.odd and int(v) % 2 == 0:
                return f"{self.title} must be odd, got {_num(v)}"
            if v in self.exclude:
                return f"{self.title} cannot be {_num(v)}"
        return None

    def within(self) -> str:
        """The limits in words: "from 1 to 200", "at least 1", "at most 9", "any number"."""
        if self.min is not None and self.max is not None:
            return f"from {_num(self.min)} to {_num(self.max)}"
        if self.min is not None or self.max is not None:
            return f"at least {_num(self.min)}" if self.min is not None else f"at most {_num(self.max)}"
        return "any number"

    def domain_text(self) -> str:
        """The domain in words, for a flag's help: "one of a, b", "from 3 to 101, odd", "from 0 to 1, not 0.5"."""
        if self.options is not None:
            return "one of " + ", ".join(map(str, self.options))
        if self.kind is bool:
            return "on or off"
        text = self.within()
        if self.odd:
            text += ", odd"
        if self.exclude:
            text += ", not " + ", ".join(map(_num, self.exclude))
        return text

    def allows(self, value) -> bool:
        """True when `value` is in the domain."""
        return self.problem(value) is None

    def allows_item(self, value) -> bool:
        """True when `value` may be one item of a tuple field, or the value of any other field."""
        return self._item_problem(value, self.item if self.kind is tuple else self.kind) is None

    def offered(self, *values) -> list | None:
        """The widget's choices with the given values added where the domain allows them and the choices lack
        them (a link's or a preset's value beyond the picks), in order; None for a widget without choices."""
        if self.choices is None:
            return None
        out = list(self.choices)
        extra = [v for v in values if v is not None and v not in out and self.allows_item(v)]
        if not extra:
            return out
        out += list(dict.fromkeys(extra))
        try:
            return sorted(out) if self.options is None else out
        except TypeError:
            return out


def _num(v) -> str:
    """A number as a message writes it: whole numbers in full (2147483647, not 2.14748e+09), others with %g."""
    if isinstance(v, numbers.Integral) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e16):
        return str(int(v))
    return f"{v:g}"


def _kind(default, annotation) -> type:
    if default is not None:
        return type(default)
    text = str(annotation)  # "int | None" (annotations are strings under `from __future__ import annotations`)
    return int if "int" in text else float if "float" in text else str


def _item(default, annotation) -> type | None:
    text = str(annotation)
    if "tuple[" not in text:
        return None
    inner = text.split("tuple[", 1)[1]
    return int if inner.startswith("int") else float if inner.startswith("float") else str


def specs(cls: type) -> list[Spec]:
    """The declared fields of the dataclass `cls` (those made with `setting`), in order."""
    out = []
    for f in dataclasses.fields(cls):
        m = f.metadata
        if "label" not in m:
            continue
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        kind = _kind(default, f.type)
        choices = m["options"] if m["options"] is not None else m.get("picks")
        widget = m["widget"] or (
            "checkbox" if kind is bool else "multiselect" if kind is tuple and choices else
            "text" if kind is tuple else "select_slider" if choices and kind in (int, float) else
            "radio" if choices else "number")
        flag = None if not m["cli"] else (m["flag"] or "--" + f.name.replace("_", "-"))
        out.append(Spec(f.name, default, m["label"], m["help"], m["options"], m["min"], m["max"], m["step"], widget,
                        m["key"], flag, kind, m["labels"], m["parse"], m["show"], m.get("group", ""),
                        picks=m.get("picks"), odd=m.get("odd", False), exclude=m.get("exclude", ()),
                        min_items=m.get("min_items", 0), max_items=m.get("max_items"),
                        unique=m.get("unique", False),
                        item=_item(default, f.type) if kind is tuple else None,
                        optional="None" in str(f.type)))
    return out


def spec(cls: type, name: str) -> Spec:
    """The declaration of field `name` of `cls`."""
    for s in specs(cls):
        if s.name == name:
            return s
    raise KeyError(f"{cls.__name__} declares no setting {name!r}")


def check(cls: type, name: str, value) -> None:
    """ConfigError with one line when `value` is outside the domain `cls.name` declares: what a page, a flag, a
    link, a preset or the Python API may set."""
    why = spec(cls, name).problem(value)
    if why:
        raise ConfigError(why)


def check_all(settings) -> None:
    """`check` every declared field of the settings object `settings` (each class's `validate()` starts here)."""
    for s in specs(type(settings)):
        why = s.problem(getattr(settings, s.name))
        if why:
            raise ConfigError(why)


def keys(cls: type) -> dict[str, str]:
    """Field name -> widget (session and link) key, for the fields a page shows."""
    return {s.name: s.key for s in specs(cls) if s.key and s.widget != "none"}
