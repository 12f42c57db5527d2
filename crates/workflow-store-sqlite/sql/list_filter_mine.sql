AND triggered_by = +:mine
