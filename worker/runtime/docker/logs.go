package docker

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// demux reads the multiplexed stream of a container without a TTY (GET
// /containers/{id}/logs): frames of an 8-byte header (stream type, three
// zero bytes, big-endian payload size) and the payload. Stdout and stderr
// come out interleaved as the engine sent them, the way the process
// backend's single log file holds them.
type demux struct {
	body io.ReadCloser
	r    *bufio.Reader
	left uint32 // payload bytes left in the current frame
}

func newDemux(body io.ReadCloser) *demux {
	return &demux{body: body, r: bufio.NewReaderSize(body, 32<<10)}
}

func (d *demux) Read(p []byte) (int, error) {
	for d.left == 0 {
		var h [8]byte
		if _, err := io.ReadFull(d.r, h[:]); err != nil {
			if err == io.ErrUnexpectedEOF {
				return 0, fmt.Errorf("docker: log stream: truncated frame header")
			}
			return 0, err
		}
		if h[0] > 2 {
			return 0, fmt.Errorf("docker: log stream: unknown stream type %d", h[0])
		}
		d.left = binary.BigEndian.Uint32(h[4:])
	}
	if uint32(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.r.Read(p)
	d.left -= uint32(n)
	if err == io.EOF && d.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (d *demux) Close() error { return d.body.Close() }
