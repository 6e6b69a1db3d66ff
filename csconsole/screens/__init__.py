"""Screens of the console: queue, ticket, help and the dialogs they open."""


def gone(node) -> bool:
    """Is the node on its way out (its screen popped, or the console closing)?

    Textual removes a screen's widgets before it cancels the screen's workers, so a worker
    whose cache read returns in that moment finds no widgets to show its result in; it
    must check this after every await before it touches one. ``display`` turns False for
    a node being pruned or closed.
    """
    return not node.is_attached or not node.display
