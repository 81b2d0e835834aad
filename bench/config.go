package bench

import (
	"time"
)

// Config is one parley-bench run. cmd/parley-bench fills it from flags;
// zero values take the defaults of Defaults.
type Config struct {
	Name     string // results go to ResultsDir/Name
	Scenario string
	// Args is the command line, kept in the report.
	Args []string

	ServerURL  string // HTTP listener, e.g. http://127.0.0.1:3000
	ChatURL    string // chat WebSocket URL (default: ServerURL's /ws/chat)
	ServerPID  int    // read the server's CPU and RSS from /proc
	MetricsURL string // otherwise scrape this (default: http://SERVER_HOST:9464/metrics, parleyd's operators' listener)
	// ServerNote describes how the server was started, for the report.
	ServerNote string

	ResultsDir   string
	AccountsFile string // token cache (default: DefaultAccountsFile)
	Prefix       string // usernames are <Prefix>_<role><i>
	SetupWorkers int    // concurrent register/login requests while setting up
	Append       bool   // merge the phases into an existing report.json

	Transport      string // nbio or gorilla
	SourceAddrs    int    // loopback source addresses to dial from (0: auto)
	ConnectTimeout time.Duration
	DialWorkers    int // concurrent dials when opening many connections

	Size            int // message content bytes
	AckEvery        int
	AckInterval     time.Duration
	ReplyTimeout    time.Duration // SUCCESS expected within
	DeliveryTimeout time.Duration // delivery expected within; later: lost
	Progress        time.Duration // progress line every (0: off)
	Quiet           bool

	// ladder
	Scale     float64  // multiplies phase durations
	RateScale float64  // multiplies arrival rates
	Phases    []string // names or numbers of the phases to run (empty: all)
	Pause     time.Duration
	Friends   int // receivers kept connected
	Pool      int // sender accounts
	Messages  int // per virtual user

	// one-to-one, group, mixed
	Users     int
	Rate      float64 // aggregate messages/s; 0 with RateMax: search
	RateMax   bool
	P99Bound  time.Duration
	Duration  time.Duration
	Warmup    time.Duration
	Window    int // max unanswered sends per connection; beyond it a send is skipped
	Groups    int
	GroupSize int
	Steps     int // --rate max: at most this many steps

	// mixed: virtual users arriving per second (the ladder's flow), history
	// requests per second, logins per second
	Churn       float64
	HistoryRate float64
	LoginRate   float64

	// login
	Concurrency int

	// connections
	Conns int
	Hold  time.Duration
}

// Defaults fills the zero fields.
func (c *Config) Defaults() {
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	defi := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	if c.ResultsDir == "" {
		c.ResultsDir = "benchmark/results"
	}
	if c.Name == "" {
		c.Name = c.Scenario + "-" + time.Now().UTC().Format("20060102T150405Z")
	}
	if c.Prefix == "" {
		c.Prefix = "bench"
	}
	if c.Transport == "" {
		c.Transport = "nbio"
	}
	defi(&c.SetupWorkers, 8)
	defi(&c.DialWorkers, 16)
	def(&c.ConnectTimeout, 10*time.Second)
	defi(&c.Size, 64)
	defi(&c.AckEvery, 32)
	def(&c.AckInterval, 50*time.Millisecond)
	def(&c.ReplyTimeout, 10*time.Second)
	def(&c.DeliveryTimeout, 10*time.Second)
	if c.Scale == 0 {
		c.Scale = 1
	}
	if c.RateScale == 0 {
		c.RateScale = 1
	}
	defi(&c.Friends, 100)
	defi(&c.Pool, 2000)
	defi(&c.Messages, 10)
	defi(&c.Users, 1000)
	def(&c.P99Bound, 50*time.Millisecond)
	def(&c.Duration, 30*time.Second)
	defi(&c.Window, 256)
	defi(&c.Groups, 100)
	defi(&c.GroupSize, 100)
	defi(&c.Steps, 12)
	defi(&c.Concurrency, 8)
	defi(&c.Conns, 15000)
	def(&c.Hold, 10*time.Second)
	if c.Size < 48 {
		c.Size = 48 // room for the id and the timestamp
	}
}
