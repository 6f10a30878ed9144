while (true) { Console.WriteLine("tick"); await Task.Delay(1000); }
