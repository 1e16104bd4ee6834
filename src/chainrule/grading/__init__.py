"""The grader's parts: the element-by-element replay of a step (``replay``), the classic mistakes
and what they reproduce (``mistakes``), and the sentences in each language (``messages``).
``chainrule.grade`` reads answer files and puts them together."""
