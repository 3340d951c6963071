"""PPO base agent (novice or expert) on a JAX-native gridworld task, trained in one jitted scan.

    python -m duo_jax.agents.train --config configs/train_grid_agent.py \
        --config.env.task=DoorKey-8x8 --config.out_dir=experiments/agents/doorkey_expert

The agent is evaluated on `env.eval_task` (the shifted test task; empty: the training task) and
saved with those stats, so BP = reward_mean / episode_length_mean.
"""
import ml_collections


def get_config():
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.out_dir = "experiments/agents/doorkey_expert"   # shipped agents (agents/) are written only when named
    c.overwrite = False   # True: train into an out_dir that holds another agent (replacing it)
    c.env = ml_collections.ConfigDict(
        # action_noise: YRC-Bench's MiniGrid noise, in training and evaluation (the env takes a uniformly
        # random action with this probability).
        dict(name="gridworld", task="DoorKey-8x8", eval_task="", num_eval_episodes=1024, eval_seed=12345,
             action_noise=0.1)
    )
    c.model = ml_collections.ConfigDict(dict(name="grid_mlp"))
    c.ppo = ml_collections.ConfigDict(
        dict(
            total_steps=5_000_000,
            num_envs=32,
            num_steps=128,
            num_epochs=4,
            num_minibatches=4,
            learning_rate=2.5e-4,
            final_lr_fraction=0.0,
            gamma=0.99,
            gae_lambda=0.95,
            clip_eps=0.2,
            ent_coef=0.01,
            vf_coef=0.5,
            max_grad_norm=0.5,
            log_every=50,               # iterations between progress lines
            checkpoint_every=100,       # iterations between training-state checkpoints (<out_dir>/state)
            snapshots=(),               # steps at which to also keep the agent as <out_dir>/snapshot_<steps>
        )
    )
    return c
