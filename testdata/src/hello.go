// layerscope fixture: minimal Go hello world (static: CGO_ENABLED=0, no libc).
package main

import "os"

func main() {
	os.Stdout.WriteString("hello from layerscope fixture (go)\n")
}
