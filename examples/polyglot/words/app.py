"""`words`: exports `polyglot:words/text` (see wit/text.wit)."""

from wit_world import exports


class Text(exports.Text):
    def title(self, s: str) -> str:
        return " ".join(w[:1].upper() + w[1:] for w in s.split(" "))
