"""The statistics behind doteval's error bars, comparisons and power analysis.

Pure Python on the standard library and attrs: importing it never imports numpy or
scipy. The engine, stores and reports build on these; nothing here knows about them.
Reference: Evan Miller, "Adding Error Bars to Evals: A Statistical Approach to Language
Model Evaluations" (arXiv 2411.00640).
"""

from typing import TYPE_CHECKING, Any

from doteval._private.public import LazyExports

if TYPE_CHECKING:
    from doteval._private.stats.bootstrap import bootstrap_estimate, bootstrap_replicates
    from doteval._private.stats.clustered import ClusterSums, clustered_mean_estimate
    from doteval._private.stats.distributions import (
        beta_isf,
        beta_ppf,
        chi2_cdf,
        chi2_isf,
        chi2_ppf,
        chi2_sf,
        norm_cdf,
        norm_isf,
        norm_ppf,
        norm_sf,
        t_cdf,
        t_isf,
        t_pdf,
        t_ppf,
        t_sf,
    )
    from doteval._private.stats.epochs import EpochEstimate, EpochMoments, epoch_estimate
    from doteval._private.stats.estimate import Difference, Estimate
    from doteval._private.stats.exact import ExactSum
    from doteval._private.stats.format import format_difference, format_estimate
    from doteval._private.stats.intervals import (
        clopper_pearson_interval,
        t_interval,
        wilson_interval,
    )
    from doteval._private.stats.moments import BinaryCounts, Moments, mean_estimate
    from doteval._private.stats.multiple import holm, holm_adjust
    from doteval._private.stats.paired import (
        PairedAccumulator,
        mcnemar,
        paired_difference,
        paired_t,
    )
    from doteval._private.stats.power import (
        binary_sd,
        detectable_effect,
        epochs_sd,
        items_needed_independent,
        items_needed_paired,
        mde_independent,
        mde_paired,
        paired_sd,
        power_of_test,
    )
    from doteval._private.stats.reduce import at_least, maximum, mean, mode, pass_at, pass_at_k

__all__ = [
    "BinaryCounts",
    "ClusterSums",
    "Difference",
    "EpochEstimate",
    "EpochMoments",
    "Estimate",
    "ExactSum",
    "Moments",
    "PairedAccumulator",
    "at_least",
    "beta_isf",
    "beta_ppf",
    "binary_sd",
    "bootstrap_estimate",
    "bootstrap_replicates",
    "chi2_cdf",
    "chi2_isf",
    "chi2_ppf",
    "chi2_sf",
    "clopper_pearson_interval",
    "clustered_mean_estimate",
    "detectable_effect",
    "epoch_estimate",
    "epochs_sd",
    "format_difference",
    "format_estimate",
    "holm",
    "holm_adjust",
    "items_needed_independent",
    "items_needed_paired",
    "maximum",
    "mcnemar",
    "mde_independent",
    "mde_paired",
    "mean",
    "mean_estimate",
    "mode",
    "norm_cdf",
    "norm_isf",
    "norm_ppf",
    "norm_sf",
    "paired_difference",
    "paired_sd",
    "paired_t",
    "pass_at",
    "pass_at_k",
    "power_of_test",
    "t_cdf",
    "t_interval",
    "t_isf",
    "t_pdf",
    "t_ppf",
    "t_sf",
    "wilson_interval",
]

# Imported on first use: a run needs a few of these modules, ``import doteval`` none.
_EXPORTS = LazyExports(
    __name__,
    {
        "BinaryCounts": "doteval._private.stats.moments",
        "ClusterSums": "doteval._private.stats.clustered",
        "Difference": "doteval._private.stats.estimate",
        "EpochEstimate": "doteval._private.stats.epochs",
        "EpochMoments": "doteval._private.stats.epochs",
        "Estimate": "doteval._private.stats.estimate",
        "ExactSum": "doteval._private.stats.exact",
        "Moments": "doteval._private.stats.moments",
        "PairedAccumulator": "doteval._private.stats.paired",
        "at_least": "doteval._private.stats.reduce",
        "beta_isf": "doteval._private.stats.distributions",
        "beta_ppf": "doteval._private.stats.distributions",
        "binary_sd": "doteval._private.stats.power",
        "bootstrap_estimate": "doteval._private.stats.bootstrap",
        "bootstrap_replicates": "doteval._private.stats.bootstrap",
        "chi2_cdf": "doteval._private.stats.distributions",
        "chi2_isf": "doteval._private.stats.distributions",
        "chi2_ppf": "doteval._private.stats.distributions",
        "chi2_sf": "doteval._private.stats.distributions",
        "clopper_pearson_interval": "doteval._private.stats.intervals",
        "clustered_mean_estimate": "doteval._private.stats.clustered",
        "detectable_effect": "doteval._private.stats.power",
        "epoch_estimate": "doteval._private.stats.epochs",
        "epochs_sd": "doteval._private.stats.power",
        "format_difference": "doteval._private.stats.format",
        "format_estimate": "doteval._private.stats.format",
        "holm": "doteval._private.stats.multiple",
        "holm_adjust": "doteval._private.stats.multiple",
        "items_needed_independent": "doteval._private.stats.power",
        "items_needed_paired": "doteval._private.stats.power",
        "maximum": "doteval._private.stats.reduce",
        "mcnemar": "doteval._private.stats.paired",
        "mde_independent": "doteval._private.stats.power",
        "mde_paired": "doteval._private.stats.power",
        "mean": "doteval._private.stats.reduce",
        "mean_estimate": "doteval._private.stats.moments",
        "mode": "doteval._private.stats.reduce",
        "norm_cdf": "doteval._private.stats.distributions",
        "norm_isf": "doteval._private.stats.distributions",
        "norm_ppf": "doteval._private.stats.distributions",
        "norm_sf": "doteval._private.stats.distributions",
        "paired_difference": "doteval._private.stats.paired",
        "paired_sd": "doteval._private.stats.power",
        "paired_t": "doteval._private.stats.paired",
        "pass_at": "doteval._private.stats.reduce",
        "pass_at_k": "doteval._private.stats.reduce",
        "power_of_test": "doteval._private.stats.power",
        "t_cdf": "doteval._private.stats.distributions",
        "t_interval": "doteval._private.stats.intervals",
        "t_isf": "doteval._private.stats.distributions",
        "t_pdf": "doteval._private.stats.distributions",
        "t_ppf": "doteval._private.stats.distributions",
        "t_sf": "doteval._private.stats.distributions",
        "wilson_interval": "doteval._private.stats.intervals",
    },
    is_home=False,
)


def __getattr__(name: str) -> Any:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names(globals())
