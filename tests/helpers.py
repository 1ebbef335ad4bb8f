"""What several test modules share: an events recorder and the splits of a parsed config."""

from lrsweep.data import load_dataset, split
from lrsweep.runner import QuietEvents


class Recorded(QuietEvents):
    """SweepEvents that remember what a sweep told them."""

    def __init__(self):
        self.notices, self.packs, self.ended, self.epochs = [], [], [], 0

    def on_notice(self, message):
        self.notices.append(message)

    def on_pack_start(self, variants):
        self.packs.append(len(variants))

    def on_epoch(self, variant_id, record):
        self.epochs += 1

    def on_variant_end(self, variant, result):
        self.ended.append((variant.lr, result.status))


def splits_of(config):
    """The config's dataset, split as the CLI splits it."""
    return split(load_dataset(config.data.name, config.data.options), config.data.val_fraction, config.seeds[0])
