"""`ttc curves`: accuracy against compute from an artifact, as text tables and plots."""
