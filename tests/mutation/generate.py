"""Mutants of one SQL model, one per site and operator.

Each model is parsed with sqlglot's DuckDB dialect and a mutant is the whole model regenerated
from a copy of its tree with one change. Operators (OPERATORS): comparisons loosened or
tightened (`>`<->`>=`, `<`<->`<=`) and `=` turned into `<>`; numeric literals, INTERVAL amounts
and `to_days(...)` amounts moved by one unit; each settings parameter (`getvariable('x')`) that
a comparison uses moved by one unit (the thresholds are DuckDB variables, not literals); each
conjunct of an AND dropped (WHERE, JOIN ON, FILTER, CASE WHEN, EXISTS, a SELECT's flag); a
single-condition JOIN ON replaced by true (its join key dropped); `AT TIME ZONE x` removed.

A mutant's id is its model, operator, enclosing CTE and a hash of the mutated node's text and
its rank among identical nodes of that CTE: it does not move when lines elsewhere change.

Where sqlglot does not regenerate a model with the same meaning (run.py checks), token_mutants
mutates the original text at the token level instead: comparisons and numbers only.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict, dataclass

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

DIALECT = "duckdb"
OPERATORS = {
    "gt_to_ge": "`>` to `>=`",
    "ge_to_gt": "`>=` to `>`",
    "lt_to_le": "`<` to `<=`",
    "le_to_lt": "`<=` to `<`",
    "eq_to_ne": "`=` to `<>`",
    "num_plus": "number + 1",
    "num_minus": "number - 1",
    "interval_plus": "INTERVAL + 1 unit",
    "interval_minus": "INTERVAL - 1 unit",
    "days_plus": "to_days(n + 1)",
    "days_minus": "to_days(n - 1)",
    "param_plus": "getvariable(x) + 1",
    "param_minus": "getvariable(x) - 1",
    "and_drop": "an AND conjunct dropped",
    "join_on_true": "the join key dropped (ON true)",
    "tz_drop": "AT TIME ZONE removed",
}
_FLIPS = {
    exp.GT: ("gt_to_ge", exp.GTE),
    exp.GTE: ("ge_to_gt", exp.GT),
    exp.LT: ("lt_to_le", exp.LTE),
    exp.LTE: ("le_to_lt", exp.LT),
    exp.EQ: ("eq_to_ne", exp.NEQ),
}
_COMPARISONS = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Paren, exp.Neg)


@dataclass(frozen=True)
class Mutant:
    id: str
    model: str
    operator: str
    line: int | None  # in the hand-written file, for the report (not part of the id)
    before: str  # the mutated node, as sqlglot writes it
    after: str
    sql: str  # the whole mutated model
    level: str = "ast"  # "token" where the model is mutated as text

    def as_dict(self) -> dict:
        return asdict(self)


def parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, dialect=DIALECT)


def render(tree: exp.Expression) -> str:
    # without comments: models.discover reads a model's dependencies from its text, and a
    # comment that sqlglot rewrites as /* ... */ would still name other models
    return tree.sql(dialect=DIALECT, pretty=True, comments=False)


def regenerate(sql: str) -> str:
    """The model as sqlglot writes it back, unmutated (the baseline of its mutants)."""
    return render(parse(sql))


def _number(text: str) -> float | int | None:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _moved(text: str, delta: int) -> str | None:
    value = _number(text)
    return None if value is None else str(value + delta)


def _getvariable(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this).lower() == "getvariable"


def _compared(node: exp.Expression) -> bool:
    """node is, through arithmetic only, an operand of a comparison (and not a to_days amount)."""
    parent = node.parent
    while isinstance(parent, _ARITHMETIC):
        parent = parent.parent
    return isinstance(parent, _COMPARISONS)


def _exists_projection(node: exp.Expression) -> bool:
    """`SELECT 1` inside EXISTS: any value selects the same rows (equivalent by construction)."""
    return (
        isinstance(node.parent, exp.Select)
        and node.arg_key == "expressions"
        and isinstance(node.parent.parent, exp.Exists)
    )


def _line(node: exp.Expression) -> int | None:
    lines = [n.meta["line"] for n in node.walk() if isinstance(n, exp.Expression) and "line" in n.meta]
    return min(lines) if lines else None


def _short(sql: str, limit: int = 140) -> str:
    one = " ".join(sql.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def _sites(tree: exp.Expression):
    """(index in walk order, operator, the replacement maker) for every mutation site."""
    nodes = list(tree.walk(bfs=False))
    for index, node in enumerate(nodes):
        kind = type(node)
        if kind in _FLIPS:
            name, target = _FLIPS[kind]
            yield index, name, lambda n, t=target: t(this=n.this.copy(), expression=n.expression.copy())
        if (
            isinstance(node, exp.Literal)
            and not node.is_string
            and not isinstance(node.parent, exp.Interval)
            and not _exists_projection(node)
        ):
            for name, delta in (("num_plus", 1), ("num_minus", -1)):
                moved = _moved(node.this, delta)
                if moved is not None:
                    yield index, name, lambda n, m=moved: exp.Literal.number(m)
        if isinstance(node, exp.Interval) and isinstance(node.this, exp.Literal):
            for name, delta in (("interval_plus", 1), ("interval_minus", -1)):
                moved = _moved(node.this.this, delta)
                if moved is not None:
                    yield (
                        index,
                        name,
                        lambda n, m=moved: exp.Interval(this=exp.Literal.string(m), unit=n.args.get("unit").copy()),
                    )
        if isinstance(node, exp.ToDays):
            for name, op in (("days_plus", exp.Add), ("days_minus", exp.Sub)):
                yield (
                    index,
                    name,
                    lambda n, o=op: exp.ToDays(
                        this=exp.Paren(this=o(this=n.this.copy(), expression=exp.Literal.number(1)))
                    ),
                )
        if _getvariable(node) and _compared(node):
            for name, op in (("param_plus", exp.Add), ("param_minus", exp.Sub)):
                yield index, name, lambda n, o=op: exp.Paren(this=o(this=n.copy(), expression=exp.Literal.number(1)))
        if isinstance(node, exp.And) and not isinstance(node.parent, exp.And):
            conjuncts = list(node.flatten())
            for drop in range(len(conjuncts)):
                yield index, f"and_drop#{drop}", lambda n, d=drop: _without(n, d)
        if isinstance(node, exp.Join) and node.args.get("on") is not None and not isinstance(node.args["on"], exp.And):
            yield index, "join_on_true", None
        if isinstance(node, exp.AtTimeZone):
            yield index, "tz_drop", lambda n: n.this.copy()


def _without(chain: exp.And, drop: int) -> exp.Expression:
    kept = [c.copy() for i, c in enumerate(chain.flatten()) if i != drop]
    return exp.and_(*kept, copy=False) if len(kept) > 1 else kept[0]


def _scope(node: exp.Expression) -> str:
    cte = node.find_ancestor(exp.CTE)
    return cte.alias_or_name if cte is not None else "main"


def mutants(model: str, sql: str) -> list[Mutant]:
    """Every mutant of the model whose hand-written text is sql, in the order of the text."""
    tree = parse(sql)
    baseline = render(tree)
    nodes = list(tree.walk(bfs=False))
    seen_keys: Counter = Counter()
    seen_sql: set[str] = {baseline}
    out: list[Mutant] = []
    for index, name, make in _sites(tree):
        node = nodes[index]
        operator = name.split("#")[0]
        if operator == "and_drop":
            target = list(node.flatten())[int(name.split("#")[1])]  # the conjunct that goes
        elif operator == "join_on_true":
            target = node.args["on"]
        else:
            target = node
        scope = _scope(node)
        # a number or a parameter is shown, and told apart from its twins, by what holds it
        leaf = operator.startswith(("num_", "param_", "days_", "interval_"))
        shown = target.parent if leaf and target.parent is not None else target
        key = f"{operator}|{scope}|{shown.sql(dialect=DIALECT, comments=False)}"
        rank = seen_keys[key]
        seen_keys[key] += 1
        digest = hashlib.sha1(f"{key}|{rank}".encode()).hexdigest()[:8]
        copy = tree.copy()
        copied = list(copy.walk(bfs=False))[index]
        if operator == "join_on_true":
            before = target.sql(dialect=DIALECT, comments=False)
            copied.set("on", exp.true())
            after = "true"
        elif operator == "and_drop":
            before, after = target.sql(dialect=DIALECT, comments=False), "(dropped)"
            copied.replace(make(copied))
        else:
            holder = copied.parent if leaf and copied.parent is not None else None
            before = (holder or copied).sql(dialect=DIALECT, comments=False)
            replacement = make(copied)
            copied.replace(replacement)
            after = (holder or replacement).sql(dialect=DIALECT, comments=False)
        mutated = render(copy)
        if mutated in seen_sql:  # the same SQL as the original or an earlier mutant
            continue
        seen_sql.add(mutated)
        out.append(
            Mutant(
                id=f"{model}:{scope}:{operator}:{digest}",
                model=model,
                operator=operator,
                line=_line(target),
                before=_short(before),
                after=_short(after),
                sql=mutated,
            )
        )
    return out


_TOKEN_FLIPS = {
    TokenType.GT: ("gt_to_ge", ">="),
    TokenType.GTE: ("ge_to_gt", ">"),
    TokenType.LT: ("lt_to_le", "<="),
    TokenType.LTE: ("le_to_lt", "<"),
    TokenType.EQ: ("eq_to_ne", "<>"),
}


def token_mutants(model: str, sql: str) -> list[Mutant]:
    """Comparisons and numbers mutated in the original text, for a model sqlglot cannot
    regenerate faithfully. The id hashes the token with its two neighbours on each side."""
    tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    seen: Counter = Counter()
    out: list[Mutant] = []
    for i, token in enumerate(tokens):
        edits = []
        if token.token_type in _TOKEN_FLIPS:
            name, text = _TOKEN_FLIPS[token.token_type]
            edits.append((name, text))
        elif token.token_type == TokenType.NUMBER:
            for name, delta in (("num_plus", 1), ("num_minus", -1)):
                moved = _moved(token.text, delta)
                if moved is not None:
                    edits.append((name, moved))
        context = " ".join(t.text for t in tokens[max(0, i - 2) : i + 3])
        for name, text in edits:
            key = f"{name}|{context}"
            rank = seen[key]
            seen[key] += 1
            digest = hashlib.sha1(f"{key}|{rank}".encode()).hexdigest()[:8]
            mutated = sql[: token.start] + text + sql[token.end + 1 :]
            out.append(
                Mutant(
                    id=f"{model}:token:{name}:{digest}",
                    model=model,
                    operator=name,
                    line=token.line,
                    before=_short(context),
                    after=_short(context.replace(token.text, text, 1)),
                    sql=mutated,
                    level="token",
                )
            )
    return out
