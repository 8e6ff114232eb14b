"""The risk register: each community's risks scored likelihood × impact (1 to 5 each), with
an owner, the detectors and playbooks that answer them and a review date (register); the
5×5 heat map (heatmap); and each risk's history: the incidents it materialised as, how fast
they were detected and resolved, and their postmortems' action items (history).

Above crisis.response: it reads incidents and postmortems and changes neither."""
