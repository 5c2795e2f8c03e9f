// Package metrics exposes milterd's Prometheus metrics. It observes at the
// seams (the pipeline, the milter glue, the limits engine, the rules
// engine): engine packages import no Prometheus code.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"outguard/policy"
)

// Probe tells whether something milterd depends on answers.
type Probe func(context.Context) error

// State is what is read from the stores and engines at each scrape.
type State struct {
	QuarantineEntries, QuarantineBytes, QuarantineMaxBytes int64
	ActiveSuspensions                                      int
	ClamdVersion                                           string // "": unknown
}

// Metrics holds milterd's collectors on a registry of its own.
type Metrics struct {
	probes        atomic.Pointer[map[string]Probe] // what /readyz asks, of the running config
	state         atomic.Pointer[func(context.Context) State]
	Registry      *prometheus.Registry
	messages      *prometheus.CounterVec
	checkSeconds  *prometheus.HistogramVec
	checkErrors   *prometheus.CounterVec
	sessions      prometheus.Gauge
	bytes         prometheus.Counter
	suspensions   prometheus.Counter
	undeliverable *prometheus.CounterVec
	rulesVersion  *prometheus.GaugeVec
	rulesReloads  *prometheus.CounterVec
	rulesReloaded prometheus.Gauge
	maillogLag    prometheus.Gauge
	refused       *prometheus.CounterVec
	maillogBehind atomic.Pointer[func() time.Duration]
	reloads       *prometheus.CounterVec
	refusals      *prometheus.CounterVec
	connEvents    *prometheus.CounterVec
}

// New registers milterd's metrics.
func New() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{
		Registry: r,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outguard_messages_total",
			Help: "Message verdicts by verdict and by the check that decided (empty: accepted by all)."}, []string{"verdict", "check"}),
		checkSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "outguard_check_duration_seconds",
			Help: "Time each check took at each stage.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}, []string{"check"}),
		checkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outguard_check_errors_total",
			Help: "Checks that failed and got their failure action, by kind: timeout (no answer in time), unreachable (connection refused or reset), error (anything else)."}, []string{"check", "kind"}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "outguard_milter_sessions",
			Help: "Milter sessions open with the MTA."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "outguard_scanned_bytes_total",
			Help: "Bytes of messages that reached end-of-message."}),
		suspensions: prometheus.NewCounter(prometheus.CounterOpts{Name: "outguard_suspensions_total",
			Help: "Accounts suspended automatically."}),
		undeliverable: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outguard_undeliverable_recipients_total",
			Help: "Undeliverable recipients counted, by source: rcpt (refused by the MTA) or log (bounced later)."}, []string{"source"}),
		rulesVersion: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "outguard_rules_info",
			Help: "The YARA rule set in use (1 for its version)."}, []string{"version"}),
		rulesReloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outguard_rules_reloads_total",
			Help: "Rule reloads by result."}, []string{"result"}),
		rulesReloaded: prometheus.NewGauge(prometheus.GaugeOpts{Name: "outguard_rules_last_reload_timestamp_seconds",
			Help: "When the rules were last loaded successfully."}),
		maillogLag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "outguard_maillog_lag_bytes",
			Help: "Bytes of the mail log file not yet read by the follower."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outguard_refused_messages_total",
			Help: "Messages refused as a whole by their receivers counted, by source: rcpt (at RCPT by the MTA) or log."}, []string{"source"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outguard_refusals_total",
			Help: "Tempfails and rejects by SMTP stage: mail (before the message: a suspension, a message limit), rcpt (one recipient: a recipient limit; the message goes on), eom (after the message: content, a limit crossed concurrently)."}, []string{"stage", "verdict", "check"}),
		connEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outguard_milter_connection_events_total",
			Help: "What the milter wire guard did, by event: over_cap (closed at accept, max_connections reached), malformed (a packet broke its command's grammar; closed), read_timeout, idle_timeout (closed), panic (recovered; that connection closed), accept_error (accept failed, e.g. out of descriptors; retried)."}, []string{"event"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outguard_config_reloads_total",
			Help: "Config reloads on SIGHUP by result; a failed one keeps the running config."}, []string{"result"}),
	}
	r.MustRegister(stateCollector{m})
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "outguard_maillog_lag_seconds",
		Help: "Seconds since the mail log follower was last at the end of its source (file or journal): grows while it cannot read it or catch up."},
		func() float64 {
			if f := m.maillogBehind.Load(); f != nil {
				return (*f)().Seconds()
			}
			return 0
		}))
	for _, c := range []prometheus.Collector{m.messages, m.checkSeconds, m.checkErrors, m.sessions, m.bytes, m.suspensions, m.undeliverable, m.rulesVersion, m.rulesReloads, m.rulesReloaded, m.maillogLag, m.refused, m.reloads, m.refusals, m.connEvents,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// ObserveCheck implements policy.Observer.
func (m *Metrics) ObserveCheck(check string, d time.Duration, err error) {
	m.checkSeconds.WithLabelValues(check).Observe(d.Seconds())
	if err != nil {
		m.checkErrors.WithLabelValues(check, errorKind(err)).Inc()
	}
}

// errorKind sorts an engine error for the alert rules.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EPIPE):
		return "unreachable"
	}
	return "error"
}

// Refused implements milter.Observer.
func (m *Metrics) Refused(stage string, v policy.Verdict) {
	m.refusals.WithLabelValues(stage, v.Action.String(), v.Check).Inc()
}

// ConnEvent implements milter.Observer.
func (m *Metrics) ConnEvent(event string) { m.connEvents.WithLabelValues(event).Inc() }

// Session implements milter.Observer.
func (m *Metrics) Session(delta int) { m.sessions.Add(float64(delta)) }

// Verdict implements milter.Observer.
func (m *Metrics) Verdict(v policy.Verdict, size int64) {
	m.messages.WithLabelValues(v.Action.String(), v.Check).Inc()
	m.bytes.Add(float64(size))
}

// Undeliverable counts undeliverable recipients; suspended whether the
// account was suspended for them.
func (m *Metrics) Undeliverable(source string, n int, suspended bool) {
	m.undeliverable.WithLabelValues(source).Add(float64(n))
	if suspended {
		m.suspensions.Inc()
	}
}

// Suspended counts an account suspended automatically for a signal other
// than undeliverable recipients (refused messages, login spread, spam).
func (m *Metrics) Suspended(signal string) { m.suspensions.Inc() }

// MaillogLag records how far the mail log follower is behind in its file.
func (m *Metrics) MaillogLag(bytes int64) { m.maillogLag.Set(float64(bytes)) }

// RefusedMessages counts messages refused as a whole.
func (m *Metrics) RefusedMessages(source string, n int) {
	m.refused.WithLabelValues(source).Add(float64(n))
}

// SetMaillogBehind installs what outguard_maillog_lag_seconds reads: the
// running follower's lag.
func (m *Metrics) SetMaillogBehind(f func() time.Duration) { m.maillogBehind.Store(&f) }

// ConfigReloaded records a SIGHUP reload.
func (m *Metrics) ConfigReloaded(ok bool) {
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// RulesLoaded records a rule reload.
func (m *Metrics) RulesLoaded(version string, ok bool) {
	if !ok {
		m.rulesReloads.WithLabelValues("failed").Inc()
		return
	}
	m.rulesReloads.WithLabelValues("ok").Inc()
	m.rulesVersion.Reset()
	m.rulesVersion.WithLabelValues(version).Set(1)
	m.rulesReloaded.SetToCurrentTime()
}

// SetState installs what each scrape reads of the running config's stores
// and engines.
func (m *Metrics) SetState(f func(context.Context) State) { m.state.Store(&f) }

var (
	quarantineEntries = prometheus.NewDesc("outguard_quarantine_entries", "Quarantine entries on disk (held, releasing, released; not deleted or purged).", nil, nil)
	quarantineBytes   = prometheus.NewDesc("outguard_quarantine_bytes", "Bytes of the quarantine entries on disk.", nil, nil)
	quarantineMax     = prometheus.NewDesc("outguard_quarantine_max_bytes", "quarantine.max_bytes (0: no bound).", nil, nil)
	suspended         = prometheus.NewDesc("outguard_suspended_accounts", "Accounts suspended now.", nil, nil)
	clamdInfo         = prometheus.NewDesc("outguard_clamd_info", "The clamd version milterd last read (1 for its version).", []string{"version"}, nil)
	up                = prometheus.NewDesc("outguard_up", "Whether each thing milterd depends on answers now (clamd, limits store, quarantine): what /readyz asks.", []string{"component"}, nil)
)

// stateCollector reads the State at scrape time.
type stateCollector struct{ m *Metrics }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{quarantineEntries, quarantineBytes, quarantineMax, suspended, clamdInfo, up} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.state.Load()
	if f == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s := (*f)(ctx)
	ch <- prometheus.MustNewConstMetric(quarantineEntries, prometheus.GaugeValue, float64(s.QuarantineEntries))
	ch <- prometheus.MustNewConstMetric(quarantineBytes, prometheus.GaugeValue, float64(s.QuarantineBytes))
	ch <- prometheus.MustNewConstMetric(quarantineMax, prometheus.GaugeValue, float64(s.QuarantineMaxBytes))
	ch <- prometheus.MustNewConstMetric(suspended, prometheus.GaugeValue, float64(s.ActiveSuspensions))
	if s.ClamdVersion != "" {
		ch <- prometheus.MustNewConstMetric(clamdInfo, prometheus.GaugeValue, 1, s.ClamdVersion)
	}
	for name, err := range c.m.probe(ctx) {
		v := 1.0
		if err != nil {
			v = 0
		}
		ch <- prometheus.MustNewConstMetric(up, prometheus.GaugeValue, v, name)
	}
}

// probe asks every probe, at once, within ctx.
func (m *Metrics) probe(ctx context.Context) map[string]error {
	var probes map[string]Probe
	if p := m.probes.Load(); p != nil {
		probes = *p
	}
	out := make(map[string]error, len(probes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, p := range probes {
		wg.Go(func() {
			err := p(ctx)
			mu.Lock()
			out[name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// SetProbes installs what /readyz asks, by name: the engines and stores of
// the config now running (called at start and at every reload).
func (m *Metrics) SetProbes(p map[string]Probe) { m.probes.Store(&p) }

// Handler serves /metrics, /healthz (liveness: the process answers) and
// /readyz (readiness: every probe answers; 503 naming what is down).
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		results := m.probe(ctx)
		names := make([]string, 0, len(results))
		for n := range results {
			names = append(names, n)
		}
		sort.Strings(names)
		var down []string
		for _, n := range names {
			if err := results[n]; err != nil {
				down = append(down, n+": "+err.Error())
			}
		}
		if len(down) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready\n%s\n", strings.Join(down, "\n"))
			return
		}
		fmt.Fprintf(w, "ready: %s\n", strings.Join(names, ", "))
	})
	return mux
}
