"""The declarative model: networks, arc costs, demand measures, assignment costs, problems."""

from otmodel.model import graphs
from otmodel.model.attraction import AttractionProblem, AttractionStep, Schedule, graph_family
from otmodel.model.costs import ArcCost, ArcCosts, Linear, Quadratic
from otmodel.model.demand import (
    AssignmentCost,
    Density,
    Euclidean,
    Gaussian,
    Geodesic,
    Grid,
    Manhattan,
    Matrix,
    Points,
    SquaredEuclidean,
    TruncatedGaussian,
    Uniform,
)
from otmodel.model.network import Arc, Network, Node
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.model.transport import GraphTransportProblem

__all__ = [
    "AttractionProblem",
    "AttractionStep",
    "Schedule",
    "graph_family",
    "Arc",
    "ArcCost",
    "ArcCosts",
    "AssignmentCost",
    "Density",
    "Euclidean",
    "FlowProblem",
    "Gaussian",
    "Geodesic",
    "GraphTransportProblem",
    "Grid",
    "Linear",
    "Manhattan",
    "Matrix",
    "Network",
    "Node",
    "Points",
    "Quadratic",
    "SpatialFlowProblem",
    "SquaredEuclidean",
    "TruncatedGaussian",
    "Uniform",
    "graphs",
]
