"""Read a Terraform module and evaluate its expressions, offline.

`terraform plan` needs the providers, which cannot be downloaded here, so the tests evaluate the
module's own expressions (variable validations, locals, resource arguments, outputs) with this
small evaluator over python-hcl2's parse tree. It covers the HCL the module uses and the
semantics that matter for it, as Terraform 1.11 behaves (checked against `terraform console`):
`&&`/`||` evaluate both operands, `a ? b : c` only the chosen one, `can()`/`try()` catch
evaluation errors. Anything it does not implement raises `Unsupported`, which `can()` does not
catch: a test then fails instead of quietly taking a wrong value.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from lark import Token, Tree


class Unsupported(Exception):
    """HCL this evaluator does not implement (a gap in the test helper, never a module error)."""


class HclError(Exception):
    """An evaluation error Terraform would report (what `can()` turns into false)."""


@dataclass
class Block:
    type: str
    labels: list[str]
    attributes: dict[str, Tree] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    source: Path | None = None

    def blocks_of(self, kind: str) -> list[Block]:
        return [b for b in self.blocks if b.type == kind]

    def literal(self, name: str, default: Any = None) -> Any:
        """An attribute that must not depend on anything (description, sensitive, ...)."""
        if name not in self.attributes:
            return default
        return evaluate(self.attributes[name], {})


@dataclass
class Module:
    path: Path
    blocks: list[Block]

    @classmethod
    def load(cls, path: Path) -> Module:
        blocks: list[Block] = []
        for file in sorted(path.glob("*.tf")):
            blocks.extend(parse_blocks(file.read_text(encoding="utf-8"), file))
        return cls(path, blocks)

    def of_type(self, kind: str) -> list[Block]:
        return [b for b in self.blocks if b.type == kind]

    @property
    def variables(self) -> dict[str, Block]:
        return {b.labels[0]: b for b in self.of_type("variable")}

    @property
    def outputs(self) -> dict[str, Block]:
        return {b.labels[0]: b for b in self.of_type("output")}

    @property
    def locals(self) -> dict[str, Tree]:
        merged: dict[str, Tree] = {}
        for block in self.of_type("locals"):
            merged.update(block.attributes)
        return merged

    @property
    def resources(self) -> dict[tuple[str, str], Block]:
        return {(b.labels[0], b.labels[1]): b for b in self.of_type("resource")}


def parse_blocks(text: str, source: Path | None = None) -> list[Block]:
    return _body(hcl2.parses_to_tree(text).children[0], "", [], source).blocks


def parse_attributes(text: str) -> dict[str, Tree]:
    """Top-level attributes of a file such as terraform.tfvars."""
    return _body(hcl2.parses_to_tree(text).children[0], "", [], None).attributes


def _body(body: Tree, kind: str, labels: list[str], source: Path | None) -> Block:
    block = Block(kind, labels, source=source)
    for child in _trees(body):
        if child.data == "attribute":
            name, expression = _trees(child)
            block.attributes[_name(name)] = expression
        elif child.data == "block":
            parts = _trees(child)
            inner = parts[-1]
            block.blocks.append(
                _body(inner, _name(parts[0]), [_label(p) for p in parts[1:-1]], source)
            )
    return block


def _trees(node: Tree) -> list[Tree]:
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _name(node: Tree) -> str:
    return str(node.children[0])


def _label(node: Tree) -> str:
    return _name(node) if node.data == "identifier" else evaluate(node, {})


# --- evaluation ----------------------------------------------------------------------------------

Scope = Mapping[str, Any]


def evaluate(node: Tree, scope: Scope) -> Any:
    handler = _HANDLERS.get(node.data)
    if handler is None:
        raise Unsupported(f"expression node {node.data!r}")
    return handler(node, scope)


def evaluate_text(expression: str, scope: Scope) -> Any:
    return evaluate(parse_attributes(f"value = {expression}\n")["value"], scope)


def _expr_term(node: Tree, scope: Scope) -> Any:
    (inner,) = _trees(node)
    return evaluate(inner, scope)


def _token(node: Tree) -> str:
    return str(node.children[0])


def _literal_value(node: Tree, scope: Scope) -> Any:
    return {"true": True, "false": False, "null": None}[_token(node)]


def _identifier(node: Tree, scope: Scope) -> Any:
    name = _token(node)
    if name not in scope:
        # path.*, data.*, a misspelt name: not something can() should quietly turn into false.
        raise Unsupported(f"reference to {name!r}, which this evaluation does not provide")
    return scope[name]


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(raw: str) -> str:
    def one(match: re.Match[str]) -> str:
        text = match.group(1)
        if text[0] in "uU":
            return chr(int(text[1:], 16))
        return _ESCAPES[text]

    return re.sub(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[nrt\"\\])", one, raw)


def _string(node: Tree, scope: Scope) -> str:
    out: list[str] = []
    for part in _trees(node):
        (piece,) = part.children
        if isinstance(piece, Token):
            if piece.type != "STRING_CHARS":
                raise Unsupported(f"string part {piece.type}")
            out.append(_unescape(str(piece)))
        elif piece.data == "interpolation":
            value = evaluate(_trees(piece)[0], scope)
            out.append(_to_string(value))
        else:
            raise Unsupported(f"template directive {piece.data}")
    return "".join(out)


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, str):
        return value
    raise HclError(f"cannot convert {type(value).__name__} to string")


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _tuple(node: Tree, scope: Scope) -> list[Any]:
    return [evaluate(item, scope) for item in _trees(node)]


def _object(node: Tree, scope: Scope) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for element in _trees(node):
        key_node, value_node = _trees(element)
        (key_expr,) = _trees(key_node)
        bare = _trees(key_expr)
        if key_expr.data == "expr_term" and len(bare) == 1 and bare[0].data == "identifier":
            key = _token(bare[0])  # `name = ...`: a literal key, not a reference
        else:
            key = _to_string(evaluate(key_expr, scope))
        result[key] = evaluate(value_node, scope)
    return result


def _get_attr(value: Any, attr_node: Tree) -> Any:
    name = _token(_trees(attr_node)[0])
    if value is None:
        raise HclError(f"attribute {name!r} of null")
    if not isinstance(value, Mapping) or name not in value:
        raise HclError(f"unsupported attribute {name!r}")
    return value[name]


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, list):
        if not isinstance(key, int | float) or not float(key).is_integer():
            raise HclError(f"invalid list index {key!r}")
        if not 0 <= int(key) < len(value):
            raise HclError(f"index {key} out of range for a list of {len(value)}")
        return value[int(key)]
    if isinstance(value, Mapping):
        if _to_string(key) not in value:
            raise HclError(f"no key {key!r}")
        return value[_to_string(key)]
    raise HclError(f"cannot index {type(value).__name__}")


def _apply_step(value: Any, step: Tree, scope: Scope) -> Any:
    if step.data == "get_attr":
        return _get_attr(value, step)
    if step.data == "braces_index":
        return _index(value, evaluate(_trees(step)[0], scope))
    if step.data == "short_index":
        return _index(value, int(str(step.children[1])))
    raise Unsupported(f"traversal step {step.data}")


def _get_attr_expr_term(node: Tree, scope: Scope) -> Any:
    target, step = _trees(node)
    return _apply_step(evaluate(target, scope), step, scope)


def _index_expr_term(node: Tree, scope: Scope) -> Any:
    target, step = _trees(node)
    return _apply_step(evaluate(target, scope), step, scope)


def _splat(node: Tree, scope: Scope) -> list[Any]:
    target, splat = _trees(node)
    value = evaluate(target, scope)
    items = [] if value is None else value if isinstance(value, list) else [value]
    out = []
    for item in items:
        for step in _trees(splat):
            item = _apply_step(item, step, scope)
        out.append(item)
    return out


def _for_parts(node: Tree) -> tuple[list[str], Tree, list[Tree], Tree | None]:
    parts = _trees(node)
    intro = parts[0]
    intro_trees = _trees(intro)
    names = [_token(t) for t in intro_trees[:-1]]
    condition = parts[-1] if parts[-1].data == "for_cond" else None
    bodies = parts[1:-1] if condition is not None else parts[1:]
    return names, intro_trees[-1], bodies, condition


def _iterate(
    names: list[str], collection: Any, scope: Scope, condition: Tree | None
) -> Iterator[Scope]:
    if isinstance(collection, Mapping):
        pairs = list(collection.items())
    elif isinstance(collection, list):
        pairs = list(enumerate(collection))
    else:
        raise HclError(f"cannot iterate over {type(collection).__name__}")
    for key, value in pairs:
        bound = {names[0]: value} if len(names) == 1 else {names[0]: key, names[1]: value}
        inner = {**scope, **bound}
        if condition is not None:
            keep = evaluate(_trees(condition)[0], inner)
            if not isinstance(keep, bool):
                raise HclError("for expression condition is not a bool")
            if not keep:
                continue
        yield inner


def _for_tuple_expr(node: Tree, scope: Scope) -> list[Any]:
    names, source, (body,), condition = _for_parts(node)
    collection = evaluate(source, scope)
    return [evaluate(body, inner) for inner in _iterate(names, collection, scope, condition)]


def _for_object_expr(node: Tree, scope: Scope) -> dict[str, Any]:
    names, source, bodies, condition = _for_parts(node)
    if any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in node.children):
        raise Unsupported("grouping for expression (...)")
    key_node, value_node = bodies
    result: dict[str, Any] = {}
    for inner in _iterate(names, evaluate(source, scope), scope, condition):
        key = _to_string(evaluate(key_node, inner))
        if key in result:
            raise HclError(f"duplicate object key {key!r}")
        result[key] = evaluate(value_node, inner)
    return result


def _conditional(node: Tree, scope: Scope) -> Any:
    condition, when_true, when_false = _trees(node)
    chosen = evaluate(condition, scope)
    if not isinstance(chosen, bool):
        raise HclError("condition is not a bool")
    return evaluate(when_true if chosen else when_false, scope)


def _bool(value: Any, operator: str) -> bool:
    if not isinstance(value, bool):
        raise HclError(f"operand of {operator} is not a bool: {value!r}")
    return value


def _number(value: Any, operator: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HclError(f"operand of {operator} is not a number: {value!r}")
    return value


def _binary_op(node: Tree, scope: Scope) -> Any:
    left_node, term = _trees(node)
    operator_node, right_node = _trees(term)
    operator = _token(operator_node)
    # Both sides, always: Terraform before 1.12 does not short-circuit && and ||.
    left, right = evaluate(left_node, scope), evaluate(right_node, scope)
    if operator == "||":
        return _bool(left, operator) | _bool(right, operator)
    if operator == "&&":
        return _bool(left, operator) & _bool(right, operator)
    if operator in ("==", "!="):
        return _equal(left, right) == (operator == "==")
    arithmetic: dict[str, Callable[[float, float], Any]] = {
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
        "%": lambda a, b: a % b,
    }
    if operator not in arithmetic:
        raise Unsupported(f"operator {operator}")
    return arithmetic[operator](_number(left, operator), _number(right, operator))


def _equal(left: Any, right: Any) -> bool:
    """Terraform's ==: values of different types are never equal, except two numbers."""
    if type(left) is type(right):
        return bool(left == right)
    return _numbers_equal(left, right)


def _numbers_equal(left: Any, right: Any) -> bool:
    numeric = (int, float)
    return (
        isinstance(left, numeric)
        and isinstance(right, numeric)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
        and left == right
    )


def _unary_op(node: Tree, scope: Scope) -> Any:
    operator = str(node.children[0])
    value = evaluate(_trees(node)[0], scope)
    if operator == "!":
        return not _bool(value, "!")
    return -_number(value, "-")


def _function_call(node: Tree, scope: Scope) -> Any:
    parts = _trees(node)
    name = _token(parts[0])
    if len(parts) > 2:
        raise Unsupported(f"provider function {name}")
    arguments = _trees(parts[1]) if len(parts) == 2 else []
    if len(parts) == 2 and any(
        isinstance(c, Token) and c.type == "ELLIPSIS" for c in parts[1].children
    ):
        raise Unsupported("argument expansion (...)")
    if name == "can":
        (argument,) = arguments
        try:
            evaluate(argument, scope)
        except HclError:
            return False
        return True
    if name == "try":
        for argument in arguments:
            try:
                return evaluate(argument, scope)
            except HclError:
                continue
        raise HclError("no try() argument could be evaluated")
    function = _FUNCTIONS.get(name)
    if function is None:
        raise Unsupported(f"function {name}()")
    return function(*[evaluate(a, scope) for a in arguments])


# --- functions (the ones the module uses, with Terraform's behaviour) ----------------------------


def _string_arg(value: Any, function: str) -> str:
    if not isinstance(value, str):
        raise HclError(f"{function}() needs a string, got {value!r}")
    return value


def _list_arg(value: Any, function: str) -> list[Any]:
    if not isinstance(value, list):
        raise HclError(f"{function}() needs a list, got {value!r}")
    return value


def _all_bools(values: Any, function: str) -> list[bool]:
    return [_bool(v, function) for v in _list_arg(values, function)]


def _regex(pattern: Any, text: Any) -> Any:
    compiled = re.compile(_string_arg(pattern, "regex"))
    match = compiled.search(_string_arg(text, "regex"))
    if match is None:
        raise HclError("regex() found no match")
    if compiled.groupindex:
        return match.groupdict()
    if compiled.groups:
        return list(match.groups())
    return match.group(0)


def _tonumber(value: Any) -> Any:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    text = _string_arg(value, "tonumber")
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?", text):
        raise HclError(f"cannot convert {text!r} to a number")
    number = float(text)
    return int(number) if number.is_integer() else number


_IPV4 = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")


def _network(prefix: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Terraform's CIDR parsing: Go's, which (unlike Python's) allows leading zeros."""
    address, slash, bits = prefix.partition("/")
    if not slash or not bits.isdigit() or not bits.isascii():
        raise HclError(f"invalid CIDR {prefix!r}")
    ipv4 = _IPV4.fullmatch(address)
    try:
        if ipv4:
            octets = [int(o) for o in ipv4.groups()]
            if max(octets) > 255 or int(bits) > 32:
                raise HclError(f"invalid CIDR {prefix!r}")
            return ipaddress.ip_network(f"{'.'.join(map(str, octets))}/{int(bits)}", strict=False)
        if ":" in address and int(bits) <= 128:
            return ipaddress.IPv6Network(f"{address}/{int(bits)}", strict=False)
    except ValueError as exc:
        raise HclError(f"invalid CIDR {prefix!r}") from exc
    raise HclError(f"invalid CIDR {prefix!r}")


def _cidrhost(prefix: Any, host: Any) -> str:
    network = _network(_string_arg(prefix, "cidrhost"))
    number = int(_number(host, "cidrhost"))
    if not 0 <= number < network.num_addresses:
        raise HclError(f"host number {number} is outside {prefix}")
    return str(network.network_address + number)


def _format(spec: Any, *values: Any) -> str:
    remaining = list(values)

    def verb(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "%%":
            return "%"
        if text not in ("%s", "%d", "%v"):
            raise Unsupported(f"format verb {text}")
        if not remaining:
            raise HclError("format() has more verbs than arguments")
        value = remaining.pop(0)
        if text == "%d":
            return _number_text(_number(value, "format"))
        return _to_string(value)

    text = re.sub(r"%[a-zA-Z%]", verb, _string_arg(spec, "format"))
    if remaining:
        raise HclError("format() has more arguments than verbs")
    return text


def _merge(*maps: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for item in maps:
        if item is None:
            continue
        if not isinstance(item, Mapping):
            raise HclError("merge() needs maps")
        merged.update(item)
    return merged


def _distinct(values: Any) -> list[Any]:
    out: list[Any] = []
    for value in _list_arg(values, "distinct"):
        if value not in out:
            out.append(value)
    return out


def _length(value: Any) -> int:
    if isinstance(value, str | list | Mapping):
        return len(value)
    raise HclError(f"length() of {value!r}")


def _contains(values: Any, value: Any) -> bool:
    return value in _list_arg(values, "contains")


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "alltrue": lambda values: all(_all_bools(values, "alltrue")),
    "anytrue": lambda values: any(_all_bools(values, "anytrue")),
    "contains": _contains,
    "length": _length,
    "distinct": _distinct,
    "merge": _merge,
    "tonumber": _tonumber,
    "split": lambda sep, text: _string_arg(text, "split").split(_string_arg(sep, "split")),
    "regex": _regex,
    "cidrhost": _cidrhost,
    "trimspace": lambda text: _string_arg(text, "trimspace").strip(),
    "trimprefix": lambda text, prefix: _string_arg(text, "trimprefix").removeprefix(
        _string_arg(prefix, "trimprefix")
    ),
    "lower": lambda text: _string_arg(text, "lower").lower(),
    "upper": lambda text: _string_arg(text, "upper").upper(),
    # Go's url.QueryEscape, which Terraform uses: space -> "+", only A-Za-z0-9-_.~ kept.
    "urlencode": lambda text: urllib.parse.quote_plus(_string_arg(text, "urlencode"), safe=""),
    "format": _format,
}


_HANDLERS: dict[str, Callable[[Tree, Scope], Any]] = {
    "expr_term": _expr_term,
    "int_lit": lambda node, scope: int(_token(node)),
    "float_lit": lambda node, scope: float(_token(node)),
    "literal_value": _literal_value,
    "identifier": _identifier,
    "string": _string,
    "tuple": _tuple,
    "object": _object,
    "get_attr_expr_term": _get_attr_expr_term,
    "index_expr_term": _index_expr_term,
    "full_splat_expr_term": _splat,
    "attr_splat_expr_term": _splat,
    "for_tuple_expr": _for_tuple_expr,
    "for_object_expr": _for_object_expr,
    "conditional": _conditional,
    "binary_op": _binary_op,
    "unary_op": _unary_op,
    "function_call": _function_call,
}


# --- a module with given inputs: variables, locals, resources as Terraform would see them ---------


class _Lazy(Mapping[str, Any]):
    """Values computed on first access, so references resolve in any order (cycles fail)."""

    def __init__(self, compute: Mapping[str, Callable[[], Any]]) -> None:
        self._compute = compute
        self._values: dict[str, Any] = {}
        self._busy: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            if key not in self._compute:
                raise KeyError(key)
            if key in self._busy:
                raise HclError(f"cycle through {key!r}")
            self._busy.add(key)
            try:
                self._values[key] = self._compute[key]()
            finally:
                self._busy.discard(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._compute)

    def __len__(self) -> int:
        return len(self._compute)


class Instance(Mapping[str, Any]):
    """One resource instance: its arguments evaluated from the configuration, plus the
    attributes only the provider would know (ids, connection strings) given by the test."""

    def __init__(self, block: Block, scope: Scope, computed: Mapping[str, Any]) -> None:
        self._block = block
        self._scope = scope
        self._computed = computed

    def __getitem__(self, key: str) -> Any:
        if key in self._computed:
            return self._computed[key]
        if key in self._block.attributes:
            return evaluate(self._block.attributes[key], self._scope)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter({*self._block.attributes, *self._computed})

    def __len__(self) -> int:
        return len({*self._block.attributes, *self._computed})

    def blocks(self, kind: str) -> list[dict[str, Any]]:
        """The nested blocks of that kind, their arguments evaluated."""
        return [
            {name: evaluate(expr, self._scope) for name, expr in block.attributes.items()}
            for block in self._block.blocks_of(kind)
        ]


class Plan:
    """The module evaluated for some input variables, as far as the configuration decides."""

    def __init__(
        self,
        module: Module,
        inputs: Mapping[str, Any],
        computed: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        unknown = set(inputs) - set(module.variables)
        if unknown:
            raise ValueError(f"not variables of the module: {sorted(unknown)}")
        self.module = module
        values: dict[str, Any] = {}
        for name, block in module.variables.items():
            if name in inputs:
                values[name] = inputs[name]
            elif "default" in block.attributes:
                values[name] = block.literal("default")
            else:
                raise ValueError(f"variable {name!r} has no default: give it a value")
        self.variables = values
        computed = computed or {}
        self.scope: dict[str, Any] = {"var": values}
        self.scope["local"] = _Lazy(
            {name: (lambda e=expr: evaluate(e, self.scope)) for name, expr in module.locals.items()}
        )
        by_type: dict[str, dict[str, Callable[[], Any]]] = {}
        for (kind, name), block in module.resources.items():
            extra = computed.get(f"{kind}.{name}", {})
            by_type.setdefault(kind, {})[name] = lambda b=block, c=extra: self._instances(b, c)
        for kind, entries in by_type.items():
            self.scope[kind] = _Lazy(entries)

    def _instances(self, block: Block, computed: Mapping[str, Any]) -> Any:
        if "count" in block.attributes:
            count = evaluate(block.attributes["count"], self.scope)
            return [Instance(block, self.scope, computed) for _ in range(int(count))]
        if "for_each" in block.attributes:
            items = evaluate(block.attributes["for_each"], self.scope)
            return {
                key: Instance(block, {**self.scope, "each": {"key": key, "value": value}}, computed)
                for key, value in items.items()
            }
        return Instance(block, self.scope, computed)

    def resource(self, address: str) -> Any:
        kind, name = address.split(".")
        return self.scope[kind][name]

    def output(self, name: str) -> Any:
        return evaluate(self.module.outputs[name].attributes["value"], self.scope)

    def rejections(self) -> list[str]:
        """Error messages of the variable validations these inputs fail, as `terraform plan`
        would print them; a condition that cannot be evaluated is reported as such."""
        failed: list[str] = []
        for name, block in self.module.variables.items():
            for validation in block.blocks_of("validation"):
                message = evaluate(validation.attributes["error_message"], self.scope)
                try:
                    ok = evaluate(validation.attributes["condition"], self.scope)
                except HclError as exc:
                    failed.append(f"{name}: condition failed to evaluate ({exc}): {message}")
                    continue
                if ok is not True:
                    failed.append(f"{name}: {message}")
        return failed
