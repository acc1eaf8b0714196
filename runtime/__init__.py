"""The runtime contract between calibration/ (which fits and writes it) and router/
(which reads and runs it): the actions and their keys, the decision model as loaded
(its linear models, answer rules, second-opinion rules and state features), the engine
factory and the problem specs. Imports strategies/ only, so routing at run time needs
nothing from the offline pipeline but the artifact loader."""
