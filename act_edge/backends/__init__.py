"""Inference backends behind one small interface (`base.Backend`); each imports its engine lazily."""
