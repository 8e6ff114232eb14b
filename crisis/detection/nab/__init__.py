"""Value-mode scoring used only by the NAB benchmark (bench/nab.py): numeric series,
contexts, novelty and the range rule. The live detectors never import this package."""
