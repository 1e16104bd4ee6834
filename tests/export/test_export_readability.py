"""Stage comments in exported code describe the layer as it was called (a layer without bias has no b_j)."""

from chainrule.export import export


def test_linear_comment_mentions_bias_only_when_the_layer_has_one():
    seed = export("seed", to="python")       # the seed's layers have no bias
    mazur = export("mazur", to="numpy")      # Mazur's have one
    seed_linear = [line for line in seed.splitlines() if "# linear, layer" in line]
    mazur_linear = [line for line in mazur.splitlines() if "# linear, layer" in line]
    assert seed_linear and all("b_j" not in line for line in seed_linear)
    assert mazur_linear and all(line.rstrip().endswith("+ b_j") for line in mazur_linear)
