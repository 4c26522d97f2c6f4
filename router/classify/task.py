"""Task scoring: which of eight tasks a request is, from weighted lexical and structural cues.

Each task collects the distinct cues present in the last user message: words and two-word
phrases from `_LEXICON`, plus structure (code fences, syntax marks, error names, arithmetic,
"into <language>", a second script next to Latin words). A task's score is the decayed sum of
its cue weights, strongest first (`DECAY`), so that one instruction outweighs many topic words.
The system prompt and earlier user turns add their cues at a lower weight, so "Now add type
hints" after a coding turn stays code. ``chat`` starts with a prior of `CHAT_PRIOR` and wins
whenever no other task collects more, which makes it the fallback for small talk and plain
questions. Scores are normalised to sum to one.

The lexicon favours cues that generalise (a task's verbs and nouns: "summarize", "haiku",
"integral", "extract ... as JSON") over phrasings from any one data set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from router.classify.features import TextFeatures
from router.classify.types import Task

CHAT_PRIOR: Final = 1.2
SYSTEM_WEIGHT: Final = 0.35
HISTORY_WEIGHT: Final = 0.4
DECAY: Final = 0.6

_LANGUAGES: Final = (
    "english", "french", "spanish", "german", "italian", "portuguese", "chinese", "mandarin",
    "cantonese", "japanese", "korean", "russian", "arabic", "hindi", "dutch", "swedish",
    "norwegian", "danish", "finnish", "polish", "turkish", "greek", "hebrew", "vietnamese", "thai",
    "indonesian", "malay", "ukrainian", "czech", "hungarian", "romanian", "bengali", "urdu",
    "persian", "farsi", "swahili", "tagalog", "filipino", "latin", "catalan", "welsh", "irish",
)  # fmt: skip
# Language names and "translate" in other languages: near-certain translation cues.
_FOREIGN_CUES: Final = (
    "traduce", "traducir", "traduire", "traduis", "traduisez", "traduza", "traduzir", "tradurre",
    "traduci", "übersetze", "übersetzen", "übersetzung", "vertaal", "vertalen", "переведи",
    "перевести", "переведите", "inglés", "anglais", "englisch", "inglese", "inglês", "español",
    "français", "deutsch", "翻译", "翻譯", "翻訳", "번역",
)  # fmt: skip


def _cues(weight: float, *phrases: str) -> dict[str, float]:
    return dict.fromkeys(phrases, weight)


# Task -> phrase -> weight. A phrase is one word or two ("how do you say" is written as its
# telling pair, "you say"). Instructions ("summarize", "translate", "extract", "haiku") weigh
# more than topics ("python", "log", "api"): "summarize this server log" is a summary.
_LEXICON: Final[Mapping[Task, Mapping[str, float]]] = {
    Task.CODE: {
        **_cues(3.0, "python", "javascript", "typescript", "java", "c++", "c#", "golang", "kotlin",
                "php", "sql", "bash", "powershell", "html", "css", "dockerfile", "kubernetes",
                "regex", "regexp", "pytest", "django", "flask", "fastapi", "react", "node js",
                "nodejs", "iptables", "pandas", "numpy", "terraform", "graphql", "traceback",
                "segfault", "debug", "debugging", "refactor", "refactoring", "compile", "compiler",
                "unit tests", "unit test", "stack trace", "type hints", "code", "coding", "awk",
                "sed", "grep", "jq", "semver"),
        **_cues(2.0, "rust", "ruby", "scala", "swift", "shell", "script", "scripts", "snippet",
                "function", "functions", "bug", "bugs", "exception", "implement", "api",
                "endpoint", "endpoints", "repo", "repository", "git", "github", "commit",
                "docker", "container", "yaml", "json", "nginx", "linux", "cli", "sdk", "boto3",
                "async", "await", "callback", "thread", "thread-safe", "mutex", "lambda",
                "recursion", "algorithm", "middleware", "backend", "frontend", "query",
                "queries", "schema", "database", "postgresql", "mysql", "mongodb", "redis",
                "variable", "variables", "array", "arrays", "loop", "class", "method",
                "programming", "program", "developer", "library", "framework", "webpack",
                "npm", "pip", "ci", "deploy", "compiles", "runtime", "syntax", "bytes",
                "ssh", "openssl", "curl", "jwt", "oauth", "http", "https", "websocket", "grpc",
                "makefile", "cmake", "linked list", "binary search", "hash map", "pull request",
                "a function", "the code", "this code", "my code", "env", "environment variables",
                "node", "dependency", "dependencies", "webhook", "vue", "angular", "svelte",
                "nextjs", "spring", "rails", "laravel", "dotnet", "tensorflow",
                "pytorch", "keras", "sklearn", "scikit-learn", "jupyter", "cron", "crontab",
                "div", "dom", "jquery", "ajax", "cors", "localhost", "heap", "hashmap",
                "bitwise", "pointer", "pointers", "malloc", "struct", "enum", "interface",
                "generics", "goroutine", "closure", "decorator", "iterator", "generator",
                "coroutine", "promise", "component", "components", "props", "hooks", "usestate",
                "useeffect", "fullstack", "devops", "microservices", "serverless", "aws", "azure",
                "gcp", "s3", "ec2", "orm", "sqlalchemy", "prisma", "elasticsearch", "kafka",
                "celery", "systemd", "zsh", "vim", "gradle", "maven", "yarn", "pnpm", "conda",
                "virtualenv", "venv", "cargo", "gcc", "clang", "wasm", "webassembly", "xcode",
                "flutter", "dart", "swiftui", "shader", "opengl", "cuda", "implementation", "py",
                "js", "ts", "tsx", "jsx", "yml", "toml", "cpp", "sh", "stdout", "stderr",
                "null", "undefined", "nan", "boilerplate", "codebase", "vscode", "ide", "in go",
                "keyword", "gitignore", "one-liner"),
        **_cues(1.0, "file", "files"),
        **_cues(1.0, "string", "integer", "boolean", "dict", "config", "configuration",
                "install", "import", "module", "package", "crash", "command", "terminal", "ssl",
                "tls", "encode", "decode", "memoization", "complexity", "server", "log", "token",
                "key", "header", "headers", "certificate", "timestamp", "unix", "docs",
                "documentation", "placeholder", "encrypted", "crypto", "request", "response",
                "version", "upgrade", "connect"),
    },
    Task.MATH: {
        **_cues(3.0, "equation", "equations", "integral", "integrate", "derivative",
                "differentiate", "calculus", "algebra", "polynomial", "quadratic",
                "eigenvalues", "eigenvalue", "eigenvectors", "determinant", "matrix", "matrices",
                "probability", "theorem", "factorial", "logarithm", "trigonometry", "geometry",
                "arithmetic", "math", "maths", "mathematics", "diagonalize", "diagonalise",
                "solve for", "prove that", "by induction", "standard deviation", "expected value",
                "taylor series", "differential equation", "many ways", "simplify",
                "perimeter", "hypotenuse", "combinatorics", "modulo", "gcd", "lcm"),
        **_cues(2.0, "solve", "calculate", "compute", "prove", "proof", "induction", "prime",
                "primes", "divisible", "divides", "fraction", "fractions", "percent",
                "percentage", "ratio", "median", "variance", "sqrt", "root",
                "roots", "area", "volume", "radius", "diameter", "circumference", "triangle",
                "angle", "vectors", "vector", "limit", "converge", "series", "integers", "dice",
                "die", "interest", "apr", "mortgage", "velocity", "acceleration", "km", "mph",
                "decimal", "factor", "evaluate the", "lowest terms", "sum of", "sequence",
                "diagonals", "octagon", "decagon", "heptagon", "next number",
                "statistics", "odds", "exponent", "independent", "log base", "squared", "cubed",
                "slope", "formula", "coefficient", "binomial", "fahrenheit", "celsius",
                "depreciates", "compound", "sin", "cos", "tan", "hexagon", "pentagon", "polygon",
                "circle", "sphere", "cylinder", "parabola", "asymptote", "inequality",
                "inequalities", "exponential", "permutations", "permutation", "combinations",
                "remainder", "quotient", "numerator", "denominator", "percentile", "infinitely",
                "bayes", "distribution", "digits"),
        **_cues(1.5, "average"),
        **_cues(1.0, "sum", "total", "number", "numbers", "how much", "how many", "equal",
                "equals", "rate", "speed", "cost", "costs", "minus", "plus", "times", "divided",
                "multiply", "mean", "log", "integer", "degrees", "per year", "linear"),
    },
    Task.REASONING: {
        **_cues(3.0, "puzzle", "riddle", "reasoning", "and cons", "trade-offs",
                "tradeoffs", "trade-off", "tradeoff", "counterarguments", "counterargument",
                "fallacy", "deduce", "dilemma", "lying", "liar", "knights", "knaves",
                "what would", "step by", "step-by-step", "think through", "it through",
                "root cause", "root causes", "confounder", "hypothesis", "hypotheses",
                "second-order", "weigh", "critique", "justify"),
        **_cues(2.0, "reason", "analyze", "analyse", "analysis", "compare", "comparison",
                "versus", "vs", "evaluate", "assess", "argument", "arguments", "logic",
                "logical", "paradox", "infer", "implications", "consequences", "decide",
                "decision", "strategy", "recommendation", "debate", "better", "assumptions",
                "scenario", "cause", "causes", "caused", "causal", "diagnose", "plausible",
                "ethical", "ethics", "suspect", "truth", "explain why", "risks", "prioritise",
                "prioritize", "plan", "figure out", "choose between", "both sides", "think about",
                "mitigate", "which should", "should our", "why might", "what else"),
        **_cues(1.5, "should we", "evidence", "rational", "trade", "smarter"),
        **_cues(1.0, "explain", "consider", "difference between", "risk", "impact", "effects",
                "outcome", "option", "options", "choose", "worth", "if", "likely", "should i",
                "why", "which is", "might", "possible"),
    },
    Task.EXTRACTION: {
        **_cues(4.5, "extract", "extraction", "pull out", "pick out", "as json", "into json",
                "json array", "comma-separated",
                "named entities", "entities", "key-value", "fill in", "structured"),
        **_cues(2.5, "fields", "field", "parse", "identify", "classify", "categorize",
                "categorise", "tag", "normalise", "normalize", "columns", "csv", "list all",
                "find all", "find every", "every date", "all the", "mentioned", "mentions",
                "redact", "mask", "get the", "table", "json", "sentiment", "keywords", "appear",
                "names of"),
        **_cues(2.0, "list the", "list of"),
        **_cues(1.5, "label", "detect", "capture"),
        **_cues(1.0, "list", "which", "from this", "from the", "following", "return",
                "output", "format", "values", "details", "fill", "form"),
    },
    Task.SUMMARISATION: {
        **_cues(5.0, "summarize", "summarise", "summarized", "summarised", "summary",
                "summaries", "summarizing", "summarising", "tl dr", "tldr", "the gist",
                "recap", "synopsis", "condense", "key takeaways", "takeaways", "key points",
                "main points", "a nutshell", "sum up", "boil this", "boil down",
                "executive summary", "short version", "abstract this", "main ideas",
                "cliff notes", "distill", "distil", "rundown", "takeaway", "main argument"),
        **_cues(2.5, "shorten", "shorter", "overview", "highlights", "digest", "brief",
                "briefly", "bullets", "bullet", "outline", "bullet-point", "two sentences",
                "three sentences", "abstract", "essentials", "skim", "reduce this"),
        **_cues(4.0, "brief overview", "quick overview"),
        **_cues(1.5, "what happened", "basically saying", "article about", "one sentence"),
        **_cues(1.0, "gist", "sentence", "sentences", "words", "short", "points", "article",
                "thread", "transcript", "report", "paragraph", "document", "memo", "notes"),
    },
    Task.TRANSLATION: {
        **_cues(5.0, "translate", "translation", "translated", "translating", "translator",
                "localize", "localise", "localization", "you say"),
        **_cues(2.0, "phrase", "meaning of", "language"),
    },
    Task.CREATIVE: {
        **_cues(4.0, "poem", "poems", "poetry", "haiku", "limerick", "sonnet", "lyrics",
                "story", "stories", "fable", "fairy", "screenplay", "monologue", "slogan",
                "tagline", "caption", "toast", "eulogy", "vows", "jingle", "once upon",
                "cover letter", "fiction", "fictional", "fan", "rap", "verse", "ode", "blurb"),
        **_cues(2.5, "song", "rhyme", "rhyming", "tale", "novel", "scene", "dialogue",
                "villain", "hero", "protagonist", "character", "characters", "plot",
                "narrative", "speech", "letter", "essay", "blog", "post", "tweet", "ad",
                "advertisement", "joke", "jokes", "pun", "puns", "imagine", "creative", "invent",
                "backstory", "worldbuilding", "make up", "made-up",
                "brainstorm", "compose", "diary", "whimsical", "heartfelt", "funny",
                "persuasive", "marketing", "product description", "style of", "come up",
                "names for"),
        **_cues(1.5, "write a", "write an", "draft a"),
        **_cues(0.5, "write", "draft"),
        **_cues(1.0, "description", "names", "ideas", "email", "message", "announcing",
                "announcement", "instagram", "linkedin", "birthday", "wedding"),
    },
    Task.CHAT: {
        **_cues(1.5, "hi", "hello", "hey", "thanks", "thank", "cheers", "morning", "lol",
                "haha", "bye", "how are", "are you", "you think", "favourite", "favorite",
                "feel", "feeling", "stressed", "advice", "tips", "recommend", "suggest",
                "any plans", "fun fact"),
        **_cues(1.0, "tell me"),
    },
}  # fmt: skip


_Cues = tuple[tuple[Task, float], ...]


def _flatten() -> tuple[dict[str, _Cues], dict[tuple[str, str], _Cues]]:
    """Splits the lexicon into word and word-pair lookups, adding the language cues."""
    words: dict[str, list[tuple[Task, float]]] = {}
    pairs: dict[tuple[str, str], list[tuple[Task, float]]] = {}
    for task, phrases in _LEXICON.items():
        for phrase, weight in phrases.items():
            match phrase.split():
                case [word]:
                    words.setdefault(word, []).append((task, weight))
                case [first, second]:
                    pairs.setdefault((first, second), []).append((task, weight))
                case _:
                    raise ValueError(f"lexicon phrase {phrase!r} has more than two words")
    for language in _LANGUAGES:
        pairs.setdefault(("into", language), []).append((Task.TRANSLATION, 4.0))
        pairs.setdefault(("to", language), []).append((Task.TRANSLATION, 3.0))
        pairs.setdefault(("in", language), []).append((Task.TRANSLATION, 2.5))
        pairs.setdefault((language, "for"), []).append((Task.TRANSLATION, 2.5))  # "the Greek for"
        pairs.setdefault((language, "word"), []).append((Task.TRANSLATION, 3.0))
        pairs.setdefault((language, "version"), []).append((Task.TRANSLATION, 3.0))
        pairs.setdefault(("formal", language), []).append((Task.TRANSLATION, 3.0))
        words.setdefault(language, []).append((Task.TRANSLATION, 1.0))
    for cue in _FOREIGN_CUES:
        words.setdefault(cue, []).append((Task.TRANSLATION, 5.0))
    return (
        {k: tuple(v) for k, v in words.items()},
        {k: tuple(v) for k, v in pairs.items()},
    )


_WORD_CUES, _PAIR_CUES = _flatten()


@dataclass(frozen=True, slots=True)
class TaskAssessment:
    """The chosen task, every task's normalised score and the cues that decided it."""

    task: Task
    scores: Mapping[str, float]
    signals: tuple[str, ...]


def score_tasks(
    request: TextFeatures,
    *,
    system: TextFeatures | None = None,
    history: TextFeatures | None = None,
    wants_json: bool = False,
) -> TaskAssessment:
    """Scores the last user message (`request`) with lower-weight context around it."""
    cues: dict[Task, list[tuple[float, str]]] = {task: [] for task in Task}
    _collect(cues, request, 1.0)
    for context, weight in ((system, SYSTEM_WEIGHT), (history, HISTORY_WEIGHT)):
        if context is not None:
            _collect(cues, context, weight)
    if wants_json:
        cues[Task.EXTRACTION].append((1.5, "json response"))
    raw = {task: _decayed_sum(found) for task, found in cues.items()}
    raw[Task.CHAT] += CHAT_PRIOR
    task = max(Task, key=lambda t: (raw[t], -_TIE_ORDER.index(t)))
    total = sum(raw.values())
    scores = MappingProxyType({t.value: raw[t] / total for t in Task})
    return TaskAssessment(task=task, scores=scores, signals=_signals(task, cues[task]))


# On equal scores the more specific task wins; chat is last.
_TIE_ORDER: Final = (
    Task.TRANSLATION, Task.SUMMARISATION, Task.EXTRACTION, Task.CODE, Task.MATH, Task.CREATIVE,
    Task.REASONING, Task.CHAT,
)  # fmt: skip


def _decayed_sum(found: list[tuple[float, str]]) -> float:
    """Strongest cue first, each further one counting `DECAY` times the one before.

    Many weak topic words ("server", "log", "api") then add up to less than one instruction.
    """
    return sum(w * DECAY**i for i, (w, _) in enumerate(sorted(found, reverse=True)))


def _collect(cues: dict[Task, list[tuple[float, str]]], text: TextFeatures, weight: float) -> None:
    for word in text.words & _WORD_CUES.keys():
        for task, w in _WORD_CUES[word]:
            cues[task].append((w * weight, word))
    for pair in text.bigrams & _PAIR_CUES.keys():
        for task, w in _PAIR_CUES[pair]:
            cues[task].append((w * weight, " ".join(pair)))
    for task, points, reason in _structure(text):
        cues[task].append((points * weight, reason))


def _structure(text: TextFeatures) -> Iterable[tuple[Task, float, str]]:
    if text.code_fences:
        yield Task.CODE, 4.0, "code fence"
    if text.code_marks:
        yield Task.CODE, min(4.0, 1.0 * text.code_marks), "code syntax"
    if text.error_names:
        yield Task.CODE, 2.0, "error name"
    if text.math_marks:
        yield Task.MATH, min(4.5, 1.5 * text.math_marks), "math notation"
    if text.numbers >= 2:
        yield Task.MATH, min(2.0, 0.5 * (text.numbers - 1)), "numbers"
    if text.mixed_scripts:
        yield Task.TRANSLATION, 2.0, "mixed scripts"
    if text.translate_marker:
        yield Task.TRANSLATION, 5.0, "translate (non-Latin)"


def _signals(task: Task, found: list[tuple[float, str]]) -> tuple[str, ...]:
    if not found:
        return (f"task {task.value}: no cues, fallback",)
    strongest = dict.fromkeys(reason for _, reason in sorted(found, reverse=True))
    return (f"task {task.value}: {', '.join(list(strongest)[:4])}",)
