# steps: main __doc__
