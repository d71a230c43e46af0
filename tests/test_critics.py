"""The DroQ critic (``regularized_mlp``, ``RegularizedContinuousCritic``) on its own: layer order, output size, the
plain case drawing SB3's networks from the same random numbers, both ways of passing ``net_arch``, every critic
replaced and registered, dropout only in training mode. (MBPO's use of it, with save/load: tests/test_mbpo.py.)"""

from __future__ import annotations

import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ContinuousCritic
from stable_baselines3.common.torch_layers import FlattenExtractor
from torch import nn

from sb3_pg_extras.common.critics import RegularizedContinuousCritic, regularized_mlp

OBS = spaces.Box(-1.0, 1.0, (3,))
ACT = spaces.Box(-1.0, 1.0, (2,))


def layer_types(net: nn.Module) -> list[type[nn.Module]]:
    return [type(m) for m in net]


@pytest.mark.parametrize(
    "dropout_rate, layer_norm, hidden",
    [
        (0.0, False, [nn.Linear, nn.Tanh]),
        (0.25, False, [nn.Linear, nn.Dropout, nn.Tanh]),
        (0.0, True, [nn.Linear, nn.LayerNorm, nn.Tanh]),
        (0.25, True, [nn.Linear, nn.Dropout, nn.LayerNorm, nn.Tanh]),
    ],
)
def test_regularized_mlp_orders_linear_dropout_layer_norm_activation_and_ends_in_one_output(dropout_rate, layer_norm, hidden):
    net = regularized_mlp(5, [7, 4], nn.Tanh, dropout_rate, layer_norm)
    assert layer_types(net) == hidden * 2 + [nn.Linear]
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5, 7), (7, 4), (4, 1)]
    norms = [m for m in net if isinstance(m, nn.LayerNorm)]
    assert [m.normalized_shape for m in norms] == ([(7,), (4,)] if layer_norm else [])
    assert all(m.p == dropout_rate for m in net if isinstance(m, nn.Dropout))
    assert net(th.zeros(6, 5)).shape == (6, 1)


def test_regularized_mlp_without_hidden_layers_is_one_linear_map():
    net = regularized_mlp(5, [], nn.ReLU, 0.5, True)
    assert layer_types(net) == [nn.Linear]
    assert (net[0].in_features, net[0].out_features) == (5, 1)


def critic_kwargs(**overrides):
    extractor = FlattenExtractor(OBS)
    kwargs = dict(
        observation_space=OBS,
        action_space=ACT,
        net_arch=[6, 5],
        features_extractor=extractor,
        features_dim=extractor.features_dim,
        n_critics=2,
    )
    return {**kwargs, **overrides}


def test_without_regularization_it_is_sb3s_critic_drawn_from_the_same_random_numbers():
    th.manual_seed(0)
    sb3 = ContinuousCritic(**critic_kwargs())
    for ours in (dict(), dict(dropout_rate=0.0, layer_norm=False)):  # the defaults, and the same given
        th.manual_seed(0)
        critic = RegularizedContinuousCritic(**critic_kwargs(), **ours)
        assert [layer_types(q) for q in critic.q_networks] == [layer_types(q) for q in sb3.q_networks]
        assert critic.state_dict().keys() == sb3.state_dict().keys()
        for name, value in sb3.state_dict().items():
            assert th.equal(critic.state_dict()[name], value), name


@pytest.mark.parametrize("positional", [False, True])
@pytest.mark.parametrize("n_critics", [1, 2])
def test_every_critic_is_replaced_registered_and_sized_from_features_plus_actions(positional, n_critics):
    kwargs = critic_kwargs(n_critics=n_critics)
    if positional:  # ContinuousCritic(observation_space, action_space, net_arch, features_extractor, features_dim)
        names = ("observation_space", "action_space", "net_arch", "features_extractor", "features_dim")
        args = [kwargs.pop(name) for name in names]
        critic = RegularizedContinuousCritic(*args, **kwargs, dropout_rate=0.1, layer_norm=True)
    else:
        critic = RegularizedContinuousCritic(**kwargs, dropout_rate=0.1, layer_norm=True)
    assert len(critic.q_networks) == n_critics
    expected = [nn.Linear, nn.Dropout, nn.LayerNorm, nn.ReLU] * 2 + [nn.Linear]
    registered = dict(critic.named_children())
    for idx, q_net in enumerate(critic.q_networks):
        assert layer_types(q_net) == expected
        assert registered[f"qf{idx}"] is q_net  # its parameters are the module's (the optimizer sees them)
        linears = [m for m in q_net if isinstance(m, nn.Linear)]
        assert [(m.in_features, m.out_features) for m in linears] == [(3 + 2, 6), (6, 5), (5, 1)]
    own = {id(p) for q_net in critic.q_networks for p in q_net.parameters()}
    assert own == {id(p) for name, p in critic.named_parameters() if name.startswith("qf")}
    values = critic(th.zeros(4, 3), th.zeros(4, 2))
    assert len(values) == n_critics and all(v.shape == (4, 1) for v in values)


def test_dropout_acts_in_training_mode_only():
    th.manual_seed(1)
    critic = RegularizedContinuousCritic(**critic_kwargs(net_arch=[64, 64]), dropout_rate=0.5)
    assert [layer_types(q) for q in critic.q_networks] == [[nn.Linear, nn.Dropout, nn.ReLU] * 2 + [nn.Linear]] * 2
    obs, act = th.randn(32, 3), th.randn(32, 2)
    critic.set_training_mode(True)
    assert not th.equal(critic(obs, act)[0], critic(obs, act)[0])
    critic.set_training_mode(False)
    assert th.equal(critic(obs, act)[0], critic(obs, act)[0])


@pytest.mark.parametrize("dropout_rate", [-0.1, 1.0, 1.5])
@pytest.mark.parametrize("layer_norm", [False, True])
def test_a_dropout_rate_outside_0_1_is_refused(dropout_rate, layer_norm):
    with pytest.raises(ValueError, match=r"dropout_rate must be in \[0, 1\)"):
        regularized_mlp(5, [4], nn.ReLU, dropout_rate, layer_norm)
    with pytest.raises(ValueError, match=r"dropout_rate must be in \[0, 1\)"):
        RegularizedContinuousCritic(**critic_kwargs(), dropout_rate=dropout_rate, layer_norm=layer_norm)
