"""PPO base agent (novice or expert) on Procgen.

    python -m duo_jax.agents.train --config configs/train_agent.py \
        --config.env.split=test --config.out_dir=experiments/agents/coinrun_expert
"""
import ml_collections


def get_config():
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.out_dir = "experiments/agents/coinrun_novice"   # shipped agents (agents/) are written only when named
    c.overwrite = False   # True: train into an out_dir that holds another agent (replacing it)
    c.env = ml_collections.ConfigDict(dict(game="coinrun", split="train", num_actions=15))
    c.model = ml_collections.ConfigDict(dict(name="small_cnn"))
    c.ppo = ml_collections.ConfigDict(
        dict(
            total_steps=5_000_000,
            num_envs=64,
            num_steps=256,
            num_epochs=3,
            num_minibatches=8,
            learning_rate=5e-4,
            final_lr_fraction=1.0,
            gamma=0.999,
            gae_lambda=0.95,
            clip_eps=0.2,
            ent_coef=0.01,
            vf_coef=0.5,
            max_grad_norm=0.5,
            checkpoint_every=10,
            snapshots=(),              # steps at which to also keep the agent as <out_dir>/snapshot_<steps>
        )
    )
    return c
