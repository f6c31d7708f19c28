"""The DRIFA-Net attention layers, under their full names and the paper's acronyms."""

from keras_drifa.layers.clia import CLIA, ChannelwiseLocalInformationAttention
from keras_drifa.layers.global_min_pooling import GlobalMinPooling2D
from keras_drifa.layers.hifa import HIFA, HierarchicalInformationFusionAttention
from keras_drifa.layers.mc_dropout import MCDropout
from keras_drifa.layers.mfa import MFA, MultiBranchFusionAttention
from keras_drifa.layers.mgifa import MGIFA, MultimodalGlobalInformationFusionAttention
from keras_drifa.layers.mifa import MIFA, MultimodalInformationFusionAttention
from keras_drifa.layers.mlifa import MLIFA, MultimodalLocalInformationFusionAttention
from keras_drifa.layers.probability_calibration import ProbabilityCalibration
from keras_drifa.layers.rra_block import RRABlock, RobustResidualAttentionBlock
from keras_drifa.layers.synchronized_batch_norm import SynchronizedBatchNormalization

__all__ = [
    "CLIA",
    "ChannelwiseLocalInformationAttention",
    "GlobalMinPooling2D",
    "HIFA",
    "HierarchicalInformationFusionAttention",
    "MCDropout",
    "MFA",
    "MGIFA",
    "MIFA",
    "MLIFA",
    "MultiBranchFusionAttention",
    "MultimodalGlobalInformationFusionAttention",
    "MultimodalInformationFusionAttention",
    "MultimodalLocalInformationFusionAttention",
    "ProbabilityCalibration",
    "RRABlock",
    "RobustResidualAttentionBlock",
    "SynchronizedBatchNormalization",
]
