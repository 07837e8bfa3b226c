"""Old spellings kept working as hidden, deprecated aliases (one warning line on stderr each) until REMOVED_IN:
options renamed (`DeprecatedAlias`, folded in by `Command`), positional arguments that were options
(`AliasedArgument`) and choice values renamed (`AliasedChoice`)."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence, TypeVar

import click
from click.core import ParameterSource

__all__ = [
    "REMOVED_IN", "AliasedArgument", "AliasedChoice", "Command", "DeprecatedAlias", "deprecated_alias",
    "deprecation_warning",
]

# The release in which the deprecated spellings (CHANGELOG.md, "Renamed") stop working.
REMOVED_IN = "0.3.0"

_F = TypeVar("_F", bound=Callable[..., Any])


def deprecation_warning(old: str, new: str) -> None:
    """The one stderr line an old spelling prints."""
    click.echo(f"Warning: {old} is deprecated and goes in vgg-deploy {REMOVED_IN}; use {new}", err=True)


class AliasedChoice(click.Choice):
    """A choice whose old value names still work (hidden from help) with a deprecation line."""

    def __init__(self, choices: Sequence[str], *, aliases: Mapping[str, str]) -> None:
        super().__init__(list(choices))
        self.aliases = dict(aliases)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value in self.aliases:
            new = self.aliases[value]
            flag = param.opts[0] if isinstance(param, click.Option) else ""
            deprecation_warning(f"{flag} {value}".strip(), f"{flag} {new}".strip())
            value = new
        return super().convert(value, param, ctx)


class DeprecatedAlias(click.Option):
    """The old spelling of another parameter of the same command: hidden, and folded into that parameter by
    `Command` (which prints the deprecation line). `replaces` is the parameter's name, `new` how to write it,
    `values` old values that are spelled differently now (e.g. gpu -> cuda)."""

    def __init__(self, param_decls: Sequence[str], *, replaces: str, new: str,
                 values: Mapping[str, str] | None = None, **attrs: Any) -> None:
        super().__init__(list(param_decls), hidden=True, default=None, metavar="VALUE", **attrs)
        self.replaces, self.new, self.values = replaces, new, dict(values or {})

    @property
    def old(self) -> str:
        return self.opts[0]


def deprecated_alias(old: str, *, replaces: str, new: str,
                     values: Mapping[str, str] | None = None) -> Callable[[_F], _F]:
    """Keep `old` (e.g. '--onnx') working for the parameter named `replaces`; the command needs cls=Command."""
    def decorate(command: _F) -> _F:
        return click.option(old, "deprecated__" + replaces, cls=DeprecatedAlias, replaces=replaces, new=new,
                            values=values)(command)
    return decorate


class Command(click.Command):
    """A command that folds its DeprecatedAlias options into the parameters they replace (after validating the
    value with that parameter's type), and checks the parameters a DeprecatedAlias made optional."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        by_name = {param.name: param for param in self.params}
        for alias in [p for p in self.params if isinstance(p, DeprecatedAlias)]:
            raw = ctx.params.pop(alias.name or "", None)
            if raw is None:
                continue
            target = by_name[alias.replaces]
            if ctx.get_parameter_source(alias.replaces) == ParameterSource.COMMANDLINE:
                raise click.UsageError(f"{alias.old} is the old spelling of {alias.new}; give only {alias.new}", ctx)
            deprecation_warning(alias.old, alias.new)
            try:
                ctx.params[alias.replaces] = target.type_cast_value(ctx, alias.values.get(raw, raw))
            except click.BadParameter as exc:
                exc.param, exc.param_hint = alias, f"'{alias.old}'"
                raise
            ctx.set_parameter_source(alias.replaces, ParameterSource.COMMANDLINE)
        for param in self.params:
            if getattr(param, "required_with_alias", False) and ctx.params.get(param.name or "") is None:
                raise click.MissingParameter(ctx=ctx, param=param)
        return rest


class AliasedArgument(click.Argument):
    """A positional argument that is required, but may come through its deprecated option instead (so click
    must not insist on it; Command checks it once the alias is folded in)."""

    required_with_alias = True
