"""The graph view: devices → local hubs → off-site providers, as a tree; face paths in red."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from netscan import untrusted
from netscan.tui.state import GraphNode

STYLE = {"hub": "bold", "device": "", "provider": "cyan", "note": "dim italic"}


class GraphView(Tree[GraphNode]):
    """A read-only tree of who talks to whom; rebuilt on every snapshot."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("graph", id=id)
        self.model: GraphNode | None = None
        self.show_root = True

    def show(self, model: GraphNode) -> None:
        self.model = model
        self.clear()
        self.root.set_label(self._label(model))
        self.root.data = model
        self._add(self.root, model, 0)
        self.root.expand()

    def _label(self, node: GraphNode) -> Text:
        text = untrusted.text(node.label, STYLE.get(node.kind, ""), limit=200)
        if node.face:
            text.stylize("bold red")
            text.append(" ⚠ face", style="bold red reverse")
        return text

    def _add(self, parent: TreeNode[GraphNode], node: GraphNode, depth: int) -> None:
        for child in node.children:
            if child.children:
                sub = parent.add(self._label(child), data=child, expand=depth < 2 or child.face)
                self._add(sub, child, depth + 1)
            else:
                parent.add_leaf(self._label(child), data=child)
