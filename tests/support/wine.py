"""scikit-learn's wine set as a user would bring it (`mlops dataset add`): 13 numeric features, the cultivar
as a string label. It ships inside scikit-learn, so no download."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def wine_frame() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    return bunch.data.assign(cultivar=[str(bunch.target_names[i]) for i in bunch.target])
