//go:build !linux

package cpuprio

func supported() bool { return false }

func idle() error { return ErrUnsupported }

func (g *Guard) hold() func() { return func() {} }
