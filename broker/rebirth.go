package broker

import (
	"time"

	"github.com/quantrac/quantrac/ingest/pipeline"
	"github.com/quantrac/quantrac/ingest/sparkplug"
)

// rebirthEvery bounds how often one edge node is asked for a rebirth: its
// births take a round trip, and data that arrives meanwhile still lacks
// them.
const rebirthEvery = 5 * time.Second

// CommandTopic is the topic on which the platform sends Sparkplug node
// commands to a gateway: spBv1.0/<province>/NCMD/<gateway>.
func CommandTopic(prov, gateway string) string {
	return sparkplugRoot + prov + "/NCMD/" + gateway
}

// requestRebirth sends the gateway an NCMD setting Node Control/Rebirth,
// at most once every rebirthEvery: the pipeline saw Sparkplug data for
// metrics or devices that no birth certificate defined, typically because
// the platform restarted after the births.
func (h *hook) requestRebirth(id pipeline.Identity) {
	now := time.Now()
	if !h.rebirths.allow(id, now, rebirthEvery, h.identityLimit()) {
		return
	}
	h.b.stats.rebirths.Add(1)
	body := sparkplug.AppendRebirthCommand(nil, now)
	if err := h.b.mqtt.Publish(CommandTopic(id.Province, id.Gateway), body, false, 1); err != nil {
		h.b.limitedLog.Warn("cannot publish Sparkplug rebirth request", "gateway", id.Gateway, "err", err)
	}
}

// identityLimit is how many gateways the per-gateway throttles remember
// before they start again: room for every known gateway, and some for
// anonymous ones in development mode.
func (h *hook) identityLimit() int {
	return 4*len(h.b.gateways.Load().byID) + 1024
}
