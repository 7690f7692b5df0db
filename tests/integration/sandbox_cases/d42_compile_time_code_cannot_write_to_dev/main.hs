{-# LANGUAGE TemplateHaskell #-}
import Language.Haskell.TH
$(runIO (writeFile "/dev/pwned" "pwned") >> return [])
main :: IO ()
main = putStrLn "compiled"
