"""How last_lightning-2.6.6_omegaconf-2.3.0.torch was made (real lightning 2.6.6 + omegaconf 2.3.0,
bf16-mixed, AdamW + LambdaLR with a callable-object schedule, ModelCheckpoint, LearningRateMonitor):

    /tmp/oc/bin/pip install lightning==2.6.6 omegaconf==2.3.0
    /tmp/oc/bin/python tests/data/lightning/make.py /tmp/out   # then copy /tmp/out/last.ckpt here as .torch

The tests load it with act-edge's allow-list, without lightning or omegaconf installed.
"""
import sys, torch, lightning as L
from omegaconf import OmegaConf
from torch import nn
from lightning.pytorch.callbacks import ModelCheckpoint, LearningRateMonitor

class Sched:
    def __init__(self, warm): self.warm = warm
    def __call__(self, step): return min(1.0, (step + 1) / self.warm)

class Mod(L.LightningModule):
    def __init__(self, *args, prop_dim, obs_backbone, action_keys, n_heads, lr, **kwargs):
        super().__init__()
        self.save_hyperparameters()
        self.obs_backbone = nn.Sequential(nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8))
        self.action_head = nn.Linear(8, 3)
    def training_step(self, batch, i):
        x = self.obs_backbone(batch[0]).mean((2, 3))
        return self.action_head(x).pow(2).mean()
    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)
        sch = torch.optim.lr_scheduler.LambdaLR(opt, Sched(10))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sch, "interval": "step"}}

cfg = OmegaConf.create({"obs_backbone": {"_target_": "x.Y", "views": ["a", "b"], "include_depth": True},
                        "action_keys": ["base", "left_gripper"]})
m = Mod(prop_dim=7, obs_backbone=cfg.obs_backbone, action_keys=cfg.action_keys, n_heads=8, lr=1e-3)
data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 4, 8, 8)), batch_size=4)
ck = ModelCheckpoint(dirpath=sys.argv[1], filename="epoch{epoch}", save_last=True, monitor="train_loss" if False else None)
t = L.Trainer(max_epochs=2, callbacks=[ck, LearningRateMonitor()], logger=L.pytorch.loggers.CSVLogger(sys.argv[1]),
              enable_progress_bar=False, accelerator="cpu", precision="bf16-mixed")
t.fit(m, data)
print(list(__import__("pathlib").Path(sys.argv[1]).glob("*.ckpt")))
