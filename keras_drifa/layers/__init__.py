"""The DRIFA-Net attention layers, under their full names and the paper's acronyms, and the
fusion layers of the baselines DRIFA-Net is compared with."""

from keras_drifa.layers.clia import CLIA, ChannelwiseLocalInformationAttention
from keras_drifa.layers.cross_modal_attention_fusion import CrossModalAttentionFusion
from keras_drifa.layers.feature_map_tokens import FeatureMapTokens
from keras_drifa.layers.gated_modality_fusion import GatedModalityFusion
from keras_drifa.layers.global_min_pooling import GlobalMinPooling2D
from keras_drifa.layers.hifa import HIFA, HierarchicalInformationFusionAttention
from keras_drifa.layers.mc_dropout import MCDropout
from keras_drifa.layers.mfa import MFA, MultiBranchFusionAttention
from keras_drifa.layers.mgifa import MGIFA, MultimodalGlobalInformationFusionAttention
from keras_drifa.layers.mifa import MIFA, MultimodalInformationFusionAttention
from keras_drifa.layers.mlifa import MLIFA, MultimodalLocalInformationFusionAttention
from keras_drifa.layers.multimodal_transformer_fusion import MultimodalTransformerFusion
from keras_drifa.layers.probability_calibration import ProbabilityCalibration
from keras_drifa.layers.rra_block import RRABlock, RobustResidualAttentionBlock
from keras_drifa.layers.synchronized_batch_norm import SynchronizedBatchNormalization

__all__ = [
    "CLIA",
    "ChannelwiseLocalInformationAttention",
    "CrossModalAttentionFusion",
    "FeatureMapTokens",
    "GatedModalityFusion",
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
    "MultimodalTransformerFusion",
    "ProbabilityCalibration",
    "RRABlock",
    "RobustResidualAttentionBlock",
    "SynchronizedBatchNormalization",
]
